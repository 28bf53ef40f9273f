"""Fit: a posterior with its spec, data hash and the last observed state needed to simulate (a result), and its
NetCDF form (`Fit.save`, `Fit.load`, with spec, hash and code version). Forecasting is models.questions.simulation,
spillover models.questions.events: both read a fit without importing this module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from models.core.errors import PosteriorMismatch, SpecError
from models.core.spec import MODEL_VERSION, ModelSpec, spec_id
from models.questions.answers import SpilloverAnswer
from models.questions.covariates import CovariatePaths
from models.questions.events import spillover
from models.questions.paths import Forecast
from models.questions.simulation import simulate_forecast


class Fit:
    """A fitted model: `spec`, `posterior` (DataTree), `data_hash`, `regions`, `last_period`, `diagnostics`.

    `info` says which regions were skipped (no usable observations), which have no neighbours,
    which end before the last period (their last value is carried to the forecast origin),
    the sampler settings and the neighbour normalisation.
    """

    def __init__(self, *, spec: ModelSpec, posterior: xr.DataTree, data_hash: str, regions: list[str],
                 last_period: str, state: dict[str, np.ndarray], info: dict[str, Any], diagnostics: dict) -> None:
        self.spec = spec
        self.posterior = posterior
        self.data_hash = data_hash
        self.regions = list(regions)
        self.last_period = last_period
        self.state = state
        self.info = info
        self.diagnostics = diagnostics
        self._samples: dict[str, np.ndarray] | None = None

    # -- accessors ----------------------------------------------------------------------------
    @property
    def spec_id(self) -> str:
        """Return the short identity of the spec (with the model code version)."""
        return spec_id(self.spec)

    @property
    def skipped_regions(self) -> list[str]:
        """Return the regions left out of the likelihood (no usable observations); their forecasts are NaN."""
        return list(self.info.get("skipped_regions", []))

    @property
    def normalise(self) -> str:
        """Return the neighbour-weight normalisation in use ("target" or "source")."""
        return self.spec.normalise

    def samples(self) -> dict[str, np.ndarray]:
        """Return posterior samples per parameter, chain and draw flattened into the first axis."""
        if self._samples is None:
            post = self.posterior["posterior"].to_dataset()
            out = {}
            for name in post.data_vars:
                arr = post[name].values
                out[str(name)] = arr.reshape((-1,) + arr.shape[2:])
            self._samples = out
        return self._samples

    def region_index(self, region: str) -> int:
        """Return the position of a region; raises SpecError if the fit does not cover it."""
        if region not in self.regions:
            raise SpecError(f"unknown region {region!r}; this fit covers {self.regions}")
        return self.regions.index(region)

    # -- what the README documents on a Fit: one-line calls into the modules that do the work ---------
    def forecast(self, horizon: int = 6, draws: int = 1000, seed: int = 0, *,
                 cut: tuple[str, str] | None = None, scenario: dict | None = None,
                 covariates: dict | CovariatePaths | None = None, posterior_draws: int | None = None,
                 grid: bool = False, condition: tuple[str, float] | None = None) -> Forecast:
        """Return a Forecast of `draws` joint paths for steps 1..horizon (see
        models.questions.simulation.simulate_forecast)."""
        return simulate_forecast(self, horizon, draws, seed, cut=cut, scenario=scenario, covariates=covariates,
                                 posterior_draws=posterior_draws, grid=grid, condition=condition)

    def spillover(self, source: str, target: str, threshold: float, horizon: int = 6, scenario=None,
                  draws: int = 1000, seed: int = 0, covariates: dict | CovariatePaths | None = None) -> SpilloverAnswer:
        """Return the spillover answer (models.SpilloverAnswer) for source -> target (see
        models.questions.events.spillover)."""
        return spillover(self, source=source, target=target, threshold=threshold, horizon=horizon,
                         scenario=scenario, draws=draws, seed=seed, covariates=covariates)

    # -- posterior I/O ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write posterior, sample stats and simulation state to NetCDF (h5netcdf) with spec, hash and version in
        attrs; returns nothing."""
        state = xr.Dataset({k: (tuple(f"{k}_d{i}" for i in range(np.ndim(v))), np.asarray(v))
                            for k, v in self.state.items()})
        tree = xr.DataTree.from_dict({
            "posterior": self.posterior["posterior"].to_dataset(),
            "sample_stats": self.posterior["sample_stats"].to_dataset(),
            "state": state,
        })
        tree.attrs = {
            "spec": self.spec.to_json(), "spec_id": self.spec_id, "model_version": MODEL_VERSION,
            "data_hash": self.data_hash, "regions": json.dumps(self.regions), "last_period": self.last_period,
            "info": json.dumps(self.info), "diagnostics": json.dumps(self.diagnostics),
        }
        tree.to_netcdf(path, engine="h5netcdf")

    @classmethod
    def load(cls, path: str | Path, spec: ModelSpec | None = None) -> Fit:
        """Return the Fit stored at `path`; raises PosteriorMismatch if its spec id or model version differs from
        the current code (or from `spec` when given)."""
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
        attrs = dict(tree.attrs)
        for key in ("spec", "spec_id", "model_version", "data_hash"):
            if key not in attrs:
                raise PosteriorMismatch(f"{path} is not a fragility-forecast fit: attribute {key!r} missing")
        if attrs["model_version"] != MODEL_VERSION:
            raise PosteriorMismatch(f"{path} was fitted by model version {attrs['model_version']}, "
                                    f"this code is version {MODEL_VERSION}")
        stored = ModelSpec.from_dict(json.loads(attrs["spec"]))
        if spec_id(stored) != attrs["spec_id"]:
            raise PosteriorMismatch(f"{path}: stored spec id {attrs['spec_id']} does not match its spec "
                                    f"({spec_id(stored)}); the file was altered or written by other code")
        if spec is not None and spec_id(spec) != attrs["spec_id"]:
            raise PosteriorMismatch(f"{path} holds spec {attrs['spec_id']}, not the requested {spec_id(spec)}")
        state = {str(k): np.asarray(v.values) for k, v in tree["state"].to_dataset().data_vars.items()}
        posterior = xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset(),
                                           "sample_stats": tree["sample_stats"].to_dataset()})
        return cls(spec=stored, posterior=posterior, data_hash=attrs["data_hash"],
                   regions=json.loads(attrs["regions"]), last_period=attrs["last_period"], state=state,
                   info=json.loads(attrs["info"]), diagnostics=json.loads(attrs["diagnostics"]))

"""Fit: a posterior with its spec, data hash and the last observed state needed to simulate; NetCDF I/O."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from indicators import add_months
from models.covariates import CovariatePaths, covariate_paths
from models.errors import PosteriorMismatch, SpecError
from models.forecast import Forecast
from models.simulate import draw_randomness, simulator_for
from models.spec import MODEL_VERSION, ModelSpec, spec_id


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

    # -- forecasting --------------------------------------------------------------------------
    def forecast(self, horizon: int = 6, draws: int = 1000, seed: int = 0, *,
                 cut: tuple[str, str] | None = None, scenario: dict | None = None,
                 covariates: dict | CovariatePaths | None = None) -> Forecast:
        """Return a Forecast of `draws` joint paths for steps 1..horizon after `last_period`.

        cut=(source, target) removes the source->target neighbour channel (same random numbers as
        the uncut run with the same seed). scenario={region: values} replaces that region's
        simulated values: a list per step (None = simulated), a dict {period: value}, or
        {"scale": factor} multiplying the simulated values. covariates={name: Fit or Forecast of that
        covariate indicator} moves those covariates forward with their own model (path i feeds path i;
        see models.covariates); the others are held at their last value. A CovariatePaths (the
        `covariates` of an earlier Forecast) reuses exactly the covariate paths of that forecast.
        The Forecast's `covariates_mode` says "none", "held", "modelled" or "mixed".
        """
        if not isinstance(horizon, int) or horizon < 1:
            raise SpecError(f"horizon must be an integer >= 1, got {horizon!r}")
        if not isinstance(draws, int) or draws < 1:
            raise SpecError(f"draws must be an integer >= 1, got {draws!r}")
        periods = [add_months(self.last_period, h) for h in range(1, horizon + 1)]
        cut_idx = None
        if cut is not None:
            cut_idx = (self.region_index(cut[0]), self.region_index(cut[1]))
        scen = self._scenario(scenario, periods)
        samples = self.samples()
        n_samples = next(iter(samples.values())).shape[0]
        idx, uniforms = draw_randomness(n_samples, draws, horizon, len(self.regions), seed)
        x_paths = self._covariate_paths(covariates, horizon, draws, seed)
        simulate = simulator_for(self.spec)
        paths = simulate(self.spec, samples, self.state, idx=idx, uniforms=uniforms, cut=cut_idx, scenario=scen,
                         covariates=x_paths)
        meta = {"spec_id": self.spec_id, "seed": seed, "cut": list(cut) if cut else None,
                "scenario": bool(scenario), "data_hash": self.data_hash, "normalise": self.spec.normalise}
        return Forecast(paths, periods, self.regions, indicator=self.spec.indicator,
                        covariates_mode=x_paths.mode if x_paths is not None else "none", meta=meta,
                        covariates=x_paths)

    def _covariate_paths(self, covariates, horizon: int, draws: int, seed: int) -> CovariatePaths | None:
        if not self.spec.covariates:
            if covariates:
                raise SpecError("this model has no covariates; fit one with covariates=[...] to move them")
            return None
        if isinstance(covariates, CovariatePaths):
            if covariates.names != list(self.spec.covariates):
                raise SpecError(f"covariate paths are of {covariates.names}, this model's covariates are "
                                f"{list(self.spec.covariates)}")
            return covariates.first(draws, horizon)
        return covariate_paths(self, horizon=horizon, draws=draws, seed=seed, sources=covariates)

    def _scenario(self, scenario: dict | None, periods: list[str]) -> dict[int, np.ndarray] | None:
        if not scenario:
            return None
        out = {}
        for region, values in scenario.items():
            r = self.region_index(region)
            if isinstance(values, dict) and set(values) == {"scale"}:
                out[r] = np.array(float(values["scale"]))
            elif isinstance(values, dict):
                unknown = set(values) - set(periods)
                if unknown:
                    raise SpecError(f"scenario for {region!r} names periods outside the horizon: {sorted(unknown)}")
                out[r] = np.array([np.nan if values.get(p) is None else float(values[p]) for p in periods])
            else:
                arr = np.array([np.nan if v is None else float(v) for v in values])
                if arr.size > len(periods):
                    raise SpecError(f"scenario for {region!r} has {arr.size} values for a horizon of {len(periods)}")
                out[r] = arr
            bad = out[r][~np.isnan(out[r])]
            if np.any(bad < 0):
                raise SpecError(f"scenario for {region!r} has negative values")
            if self.spec.family == "share" and out[r].ndim and np.any(bad > 1):
                raise SpecError(f"scenario for {region!r} has values above 1; shares lie in [0, 1]")
        return out

    def spillover(self, source: str, target: str, threshold: float, horizon: int = 6, scenario=None,
                  draws: int = 1000, seed: int = 0, covariates: dict | CovariatePaths | None = None) -> dict:
        """Return the spillover answer for source -> target (see models.events.spillover)."""
        from models.events import spillover

        return spillover(self, source=source, target=target, threshold=threshold, horizon=horizon,
                         scenario=scenario, draws=draws, seed=seed, covariates=covariates)

    # -- I/O ----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write posterior, sample stats and simulation state to NetCDF (h5netcdf) with spec, hash and version in attrs."""
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
        """Return the Fit stored at `path`; raises PosteriorMismatch if its spec id or model version
        differs from the current code (or from `spec` when given)."""
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
        state_ds = tree["state"].to_dataset()
        state = {str(k): np.asarray(v.values) for k, v in state_ds.data_vars.items()}
        posterior = xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset(),
                                           "sample_stats": tree["sample_stats"].to_dataset()})
        return cls(spec=stored, posterior=posterior, data_hash=attrs["data_hash"],
                   regions=json.loads(attrs["regions"]), last_period=attrs["last_period"], state=state,
                   info=json.loads(attrs["info"]), diagnostics=json.loads(attrs["diagnostics"]))

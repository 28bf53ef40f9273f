"""Fit: a posterior with its spec, data hash and the last observed state needed to simulate (a result;
forecasting is models.forecasting, NetCDF I/O models.io, spillover models.events)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from models.answers import SpilloverAnswer
from models.covariates import CovariatePaths
from models.errors import SpecError
from models.events import spillover
from models.forecast import Forecast
from models.forecasting import simulate_forecast
from models.spec import ModelSpec, spec_id


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
        """Return a Forecast of `draws` joint paths for steps 1..horizon (see models.forecasting.simulate_forecast)."""
        return simulate_forecast(self, horizon, draws, seed, cut=cut, scenario=scenario, covariates=covariates,
                                 posterior_draws=posterior_draws, grid=grid, condition=condition)

    def spillover(self, source: str, target: str, threshold: float, horizon: int = 6, scenario=None,
                  draws: int = 1000, seed: int = 0, covariates: dict | CovariatePaths | None = None) -> SpilloverAnswer:
        """Return the spillover answer (models.SpilloverAnswer) for source -> target (see models.events.spillover)."""
        return spillover(self, source=source, target=target, threshold=threshold, horizon=horizon,
                         scenario=scenario, draws=draws, seed=seed, covariates=covariates)

    def save(self, path: str | Path) -> None:
        """Write the fit to NetCDF (see models.io.save_fit); returns nothing."""
        from models.io import save_fit

        save_fit(self, path)

    @classmethod
    def load(cls, path: str | Path, spec: ModelSpec | None = None) -> Fit:
        """Return the Fit stored at `path` (see models.io.load_fit; raises PosteriorMismatch)."""
        from models.io import load_fit

        return load_fit(path, spec)

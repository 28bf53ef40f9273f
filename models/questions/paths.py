"""Forecast: joint simulated paths (draw, step, region) and the summaries read from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from models.core.errors import SpecError
from models.questions.covariates import CovariatePaths
from models.questions.uncertainty import INTERVAL_LEVEL, credible_interval, group_means, interval_method, predictive


def jeffreys_interval(hits: int, n: int, level: float = INTERVAL_LEVEL) -> list[float]:
    """Return the Jeffreys interval [lo, hi] of a probability estimated as hits/n (Monte Carlo error)."""
    tail = (1 - level) / 2
    lo = 0.0 if hits == 0 else float(stats.beta.ppf(tail, hits + 0.5, n - hits + 0.5))
    hi = 1.0 if hits == n else float(stats.beta.ppf(1 - tail, hits + 0.5, n - hits + 0.5))
    return [lo, hi]


class Forecast:
    """Simulated paths of every region, `paths[draw, step, region]`, for `periods` after the fit.

    Regions the fit could not use (no observations) have NaN paths; asking a summary of them
    raises SpecError. `covariates_mode` is "none" (the model has no covariates), "held" (kept at their
    last value), "modelled" (moved by their own fitted models) or "mixed"; `covariates` holds the
    covariate paths read at each step (models.questions.covariates.CovariatePaths) when the model has any;
    `groups` gives the posterior draw group of each path (see models.questions.uncertainty; None: not grouped);
    `meta` carries the spec id, seed, cut and scenario. A forecast conditioned on a region staying below a
    threshold (`meta["condition"]` = [region, threshold]) holds in `no_crossing` each path's probability of
    never reaching it (see models.questions.simulation.simulate_forecast); its paths of that region are conditional.
    """

    def __init__(self, paths: np.ndarray, periods: list[str], regions: list[str], *,
                 indicator: str, covariates_mode: str = "none", meta: dict | None = None,
                 covariates: CovariatePaths | None = None, groups: np.ndarray | None = None,
                 no_crossing: np.ndarray | None = None) -> None:
        paths = np.asarray(paths, dtype=float)
        if paths.ndim != 3 or paths.shape[1] != len(periods) or paths.shape[2] != len(regions):
            raise SpecError(f"paths of shape {paths.shape} do not match "
                            f"{len(periods)} periods x {len(regions)} regions")
        self.paths = paths
        self.periods = list(periods)
        self.regions = list(regions)
        self.indicator = indicator
        self.covariates_mode = covariates_mode
        self.covariates = covariates
        self.meta = dict(meta or {})
        if groups is not None and np.shape(groups) != (paths.shape[0],):
            raise SpecError(f"groups of shape {np.shape(groups)} do not match {paths.shape[0]} paths")
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        if no_crossing is not None and np.shape(no_crossing) != (paths.shape[0],):
            raise SpecError(f"no_crossing of shape {np.shape(no_crossing)} does not match {paths.shape[0]} paths")
        self.no_crossing = None if no_crossing is None else np.asarray(no_crossing, dtype=float)

    @property
    def posterior_draws(self) -> int | None:
        """Return how many posterior draws the paths come from (None when they are not grouped)."""
        return None if self.groups is None else int(np.unique(self.groups).size)

    @property
    def paths_per_draw(self) -> int | None:
        """Return how many paths each posterior draw has (None when the paths are not grouped)."""
        return None if self.groups is None else self.paths.shape[0] // self.posterior_draws

    @property
    def covariates_detail(self) -> dict:
        """Return per covariate how it moved ({"mode", "source", "origin", "held_regions"}); {} without covariates."""
        return dict(self.covariates.detail) if self.covariates is not None else {}

    def first_steps(self, horizon: int) -> Forecast:
        """Return a Forecast of the first `horizon` steps of these paths (itself when that is all of them)."""
        if horizon == self.horizon:
            return self
        if self.no_crossing is not None:
            raise SpecError("a forecast conditioned on no crossing holds probabilities for its whole horizon only; "
                            f"simulate it with horizon={horizon}")
        covariates = self.covariates.first(self.paths.shape[0], horizon) if self.covariates is not None else None
        return Forecast(self.paths[:, :horizon], self.periods[:horizon], self.regions, indicator=self.indicator,
                        covariates_mode=self.covariates_mode, meta=self.meta, covariates=covariates,
                        groups=self.groups)

    def only(self, region: str) -> Forecast:
        """Return a Forecast of this one region's paths (same groups, no_crossing and meta; no covariate paths)."""
        r = self.regions.index(region) if region in self.regions else self.region_paths(region)
        return Forecast(self.paths[:, :, [r]], self.periods, [region], indicator=self.indicator,
                        covariates_mode=self.covariates_mode, meta=self.meta, groups=self.groups,
                        no_crossing=self.no_crossing)

    @property
    def horizon(self) -> int:
        """Return the number of steps."""
        return len(self.periods)

    def region_paths(self, region: str) -> np.ndarray:
        """Return (draw, step) paths of one region; raises SpecError for unknown or unforecastable regions."""
        if region not in self.regions:
            raise SpecError(f"unknown region {region!r}; the forecast covers {self.regions}")
        out = self.paths[:, :, self.regions.index(region)]
        if np.isnan(out).all():
            raise SpecError(f"region {region!r} has no observations of {self.indicator!r}, so it has no forecast",
                            hint="Send observations for it and refit.")
        return out

    def quantiles(self, region: str, qs: list[float] | tuple[float, ...] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Return a DataFrame, one row per step: column "period" then one column per quantile (named str(q))."""
        qs = [float(q) for q in qs]
        if any(not 0 <= q <= 1 for q in qs):
            raise SpecError(f"quantiles must lie in [0, 1], got {qs}")
        values = np.quantile(self.region_paths(region), qs, axis=0).T
        frame = pd.DataFrame(values, columns=[str(q) for q in qs])
        frame.insert(0, "period", self.periods)
        return frame

    def mean(self, region: str) -> np.ndarray:
        """Return the mean forecast per step for one region."""
        return self.region_paths(region).mean(axis=0)

    def probability(self, region: str, threshold: float, within: bool = True, grid: Forecast | None = None) -> dict:
        """Return {"probability", "interval", "credible_interval", "mc_standard_error", "interval_method", ...}
        of value >= threshold.

        within=True: any month in 1..H (floats); within=False: per step (lists). `probability` is the
        predictive probability (mean over these paths) and `mc_standard_error` its Monte Carlo error. With a
        posterior `grid` (the same fit's forecast with grid=True, see models.questions.uncertainty; for within=True
        preferably the event grid, conditioned on `region` staying below `threshold`), `credible_interval`
        is the 90% credible interval of P(event | theta) over the posterior draws and `interval` repeats it;
        without one, `credible_interval` is None and `interval` is the 90% Jeffreys interval of the Monte
        Carlo estimate. `interval_method` says which.
        """
        hits = self.region_paths(region) >= threshold
        conditioned = grid is not None and grid.no_crossing is not None
        if conditioned and (not within or grid.meta.get("condition") != [region, float(threshold)]
                            or grid.horizon != self.horizon):
            raise SpecError(f"the grid is conditioned on {grid.meta.get('condition')} over {grid.horizon} steps, "
                            f"not on {[region, float(threshold)]} within {self.horizon}")
        grid_draws, per_draw = (grid.posterior_draws, grid.paths_per_draw) if grid is not None else (None, None)
        method = {"interval_method": interval_method(grid_draws, per_draw, hits.shape[0],
                                                     rao_blackwellised=conditioned)}
        if conditioned:
            event = self._event(hits.any(axis=1), (1.0 - grid.no_crossing, grid.groups))
            return {**event, "threshold": threshold, "within": True, "horizon": self.horizon, **method}
        grid_hits = grid.first_steps(self.horizon).region_paths(region) >= threshold if grid is not None else None
        if within:
            event = self._event(hits.any(axis=1), None if grid is None else (grid_hits.any(axis=1), grid.groups))
            return {**event, "threshold": threshold, "within": True, "horizon": self.horizon, **method}
        steps = [self._event(hits[:, h], None if grid is None else (grid_hits[:, h], grid.groups))
                 for h in range(hits.shape[1])]
        return {key: [step[key] for step in steps] for key in steps[0]} | {
            "threshold": threshold, "within": False, "periods": self.periods, **method}

    def _event(self, hit: np.ndarray, grid: tuple[np.ndarray, np.ndarray] | None) -> dict:
        """Return probability, interval, credible_interval and mc_standard_error of one event's per-path hits."""
        value, se = predictive(hit, self.groups)
        credible = None if grid is None else credible_interval(group_means(*grid), value, lo=0.0, hi=1.0)
        k, n = int(hit.sum()), hit.size
        return {"probability": value, "interval": credible if credible is not None else jeffreys_interval(k, n),
                "credible_interval": credible, "mc_standard_error": se}

    def save(self, path: str | Path) -> None:
        """Write the forecast to a .npz file (paths and covariate paths exact, metadata as JSON)."""
        header = {"periods": self.periods, "regions": self.regions, "indicator": self.indicator,
                  "covariates_mode": self.covariates_mode, "meta": self.meta}
        arrays = {"paths": self.paths, "header": np.array(json.dumps(header))}
        if self.groups is not None:
            arrays["groups"] = self.groups
        if self.covariates is not None:
            arrays.update(covariate_steps=self.covariates.steps, covariate_header=np.array(self.covariates.to_header()))
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Forecast:
        """Return the forecast stored by `save`."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            paths = data["paths"]
            groups = data["groups"] if "groups" in data.files else None
            covariates = (CovariatePaths.from_stored(data["covariate_steps"], str(data["covariate_header"]))
                          if "covariate_steps" in data.files else None)
        return cls(paths, header["periods"], header["regions"], indicator=header["indicator"],
                   covariates_mode=header["covariates_mode"], meta=header["meta"], covariates=covariates,
                   groups=groups)

"""Forecast: joint simulated paths (draw, step, region) and the summaries read from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from models.covariates import CovariatePaths
from models.errors import SpecError

INTERVAL_LEVEL = 0.9


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
    covariate paths read at each step (models.covariates.CovariatePaths) when the model has any;
    `meta` carries the spec id, seed, cut and scenario.
    """

    def __init__(self, paths: np.ndarray, periods: list[str], regions: list[str], *,
                 indicator: str, covariates_mode: str = "none", meta: dict | None = None,
                 covariates: CovariatePaths | None = None) -> None:
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

    @property
    def covariates_detail(self) -> dict:
        """Return per covariate how it moved ({"mode", "source", "origin", "held_regions"}); {} without covariates."""
        return dict(self.covariates.detail) if self.covariates is not None else {}

    def first_steps(self, horizon: int) -> Forecast:
        """Return a Forecast of the first `horizon` steps of these paths (itself when that is all of them)."""
        if horizon == self.horizon:
            return self
        covariates = self.covariates.first(self.paths.shape[0], horizon) if self.covariates is not None else None
        return Forecast(self.paths[:, :horizon], self.periods[:horizon], self.regions, indicator=self.indicator,
                        covariates_mode=self.covariates_mode, meta=self.meta, covariates=covariates)

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

    def probability(self, region: str, threshold: float, within: bool = True) -> dict:
        """Return {"probability", "interval"} of value >= threshold.

        within=True: any month in 1..H (floats); within=False: per step (lists). The interval is
        the 90% Jeffreys interval of the Monte Carlo estimate over the simulated paths.
        """
        hits = self.region_paths(region) >= threshold
        n = hits.shape[0]
        if within:
            k = int(hits.any(axis=1).sum())
            return {"probability": k / n, "interval": jeffreys_interval(k, n), "threshold": threshold,
                    "within": True, "horizon": self.horizon}
        ks = hits.sum(axis=0).astype(int)
        return {"probability": [int(k) / n for k in ks], "interval": [jeffreys_interval(int(k), n) for k in ks],
                "threshold": threshold, "within": False, "periods": self.periods}

    def save(self, path: str | Path) -> None:
        """Write the forecast to a .npz file (paths and covariate paths exact, metadata as JSON)."""
        header = {"periods": self.periods, "regions": self.regions, "indicator": self.indicator,
                  "covariates_mode": self.covariates_mode, "meta": self.meta}
        arrays = {"paths": self.paths, "header": np.array(json.dumps(header))}
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
            covariates = (CovariatePaths.from_stored(data["covariate_steps"], str(data["covariate_header"]))
                          if "covariate_steps" in data.files else None)
        return cls(paths, header["periods"], header["regions"], indicator=header["indicator"],
                   covariates_mode=header["covariates_mode"], meta=header["meta"], covariates=covariates)

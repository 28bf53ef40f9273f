"""Covariate paths for forecasting: each covariate held at its last value, or moved forward by its own fitted model.

A model with covariates reads at step h (period last + h) the covariate lagged one month: at h = 1 the
last observed value, at h >= 2 the covariate at period last + h - 1. Without a model of the covariate that
value stays the last observed one ("held"). Given the covariate's own Fit (or its Forecast), path i of
the covariate's forecast feeds path i of this model ("modelled"), transformed and standardised exactly
as the covariate was for fitting, so the joint paths stay coherent. Regions the covariate's model does
not cover (or cannot forecast) stay held, and the detail says which.

The covariate's forecast is drawn with a seed derived from the forecast's seed, so a run with a cut
channel and the uncut run see the same covariate paths (common random numbers), while the covariate's
innovations stay independent of this model's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from indicators import add_months, months_between
from models.core.errors import SpecError

MAX_ORIGIN_GAP_MONTHS = 12
"""A covariate model may end at most this many months before the fit it feeds (its forecast then starts
from its own last month); one that ends later than the fit, or earlier than this, is refused."""


@dataclass
class CovariatePaths:
    """The standardised covariate read at each step: `steps[draw, step, region, covariate]`, and how each came.

    `detail[name]` holds "mode" ("modelled" or "held"), and for a modelled covariate "source" (the spec id
    of the covariate's fit, or "forecast"), "origin" (the covariate model's last month) and "held_regions"
    (regions kept at their last value because the covariate's model has no forecast for them).
    """

    steps: np.ndarray
    names: list[str]
    detail: dict[str, dict] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        """Return "modelled" if every covariate moves with its own model, "held" if none does, else "mixed"."""
        modes = {self.detail.get(name, {}).get("mode", "held") for name in self.names}
        return modes.pop() if len(modes) == 1 else "mixed"

    def rows(self, index: np.ndarray) -> CovariatePaths:
        """Return the paths at `index` (path i of the result is path index[i] of these)."""
        return CovariatePaths(self.steps[np.asarray(index)], list(self.names), self.detail)

    def first(self, draws: int, horizon: int) -> CovariatePaths:
        """Return these paths cut to the first `draws` paths and `horizon` steps; raises SpecError if they
        are shorter."""
        if self.steps.shape[0] < draws or self.steps.shape[1] < horizon:
            raise SpecError(f"covariate paths hold {self.steps.shape[0]} paths x {self.steps.shape[1]} steps; "
                            f"{draws} x {horizon} were asked")
        return CovariatePaths(self.steps[:draws, :horizon], list(self.names), self.detail)

    def to_header(self) -> str:
        """Return names and detail as JSON text (the steps array is stored beside it)."""
        return json.dumps({"names": self.names, "detail": self.detail})

    @classmethod
    def from_stored(cls, steps: np.ndarray, header: str) -> CovariatePaths:
        """Return the CovariatePaths written as `steps` plus `to_header()`."""
        meta = json.loads(header)
        return cls(np.asarray(steps, dtype=float), list(meta["names"]), dict(meta["detail"]))


def source_problem(fit, name: str, source) -> str | None:
    """Return why `source` (a Fit or Forecast) cannot move covariate `name` of `fit`, or None if it can."""
    if name not in fit.spec.covariates:
        return f"{name!r} is not a covariate of this model (its covariates: {list(fit.spec.covariates)})"
    indicator = source.spec.indicator if hasattr(source, "spec") else getattr(source, "indicator", None)
    if indicator != name:
        return f"the model given for covariate {name!r} forecasts {indicator!r}, not {name!r}"
    origin = _origin(source)
    gap = months_between(origin, fit.last_period)
    if gap < 0:
        return (f"the model of {name!r} ends at {origin}, after this fit's last month {fit.last_period}; "
                "fit both to the same data")
    if gap > MAX_ORIGIN_GAP_MONTHS:
        return (f"the model of {name!r} ends at {origin}, {gap} months before this fit's last month "
                f"{fit.last_period} (at most {MAX_ORIGIN_GAP_MONTHS}); refit it")
    if not set(fit.regions) & set(source.regions):
        return f"the model of {name!r} covers none of this fit's regions"
    return None


def covariate_paths(fit, *, horizon: int, draws: int, seed: int, sources: dict | None) -> CovariatePaths:
    """Return the CovariatePaths of `fit` for `draws` paths x `horizon` steps; `sources` maps covariate
    names to their own Fit or Forecast (the others are held). Raises SpecError naming a source that cannot be used."""
    names = list(fit.spec.covariates)
    x_last = np.asarray(fit.state["x_last"], dtype=float).reshape(len(fit.regions), len(names))
    steps = np.broadcast_to(x_last[None, None], (draws, horizon, len(fit.regions), len(names))).copy()
    detail = {name: {"mode": "held"} for name in names}
    for name in sources or {}:
        if name not in names:
            raise SpecError(f"{name!r} is not a covariate of this model (its covariates: {names})")
    for k, name in enumerate(names):
        source = (sources or {}).get(name)
        if source is None:
            continue
        problem = source_problem(fit, name, source)
        if problem:
            raise SpecError(problem)
        detail[name] = _fill_modelled(fit, k, source, steps, seed)
    return CovariatePaths(steps, names, detail)


def _origin(source) -> str:
    return source.last_period if hasattr(source, "last_period") else add_months(source.periods[0], -1)


def _fill_modelled(fit, k: int, source, steps: np.ndarray, seed: int) -> dict:
    """Write the transformed covariate forecast into steps[:, 1:, :, k]; return its detail."""
    draws, horizon = steps.shape[:2]
    name = fit.spec.covariates[k]
    origin = _origin(source)
    needed = [add_months(fit.last_period, h) for h in range(1, horizon)]
    if hasattr(source, "spec"):  # a Fit: simulate it over the months needed, with its own derived seed
        reach = months_between(origin, fit.last_period) + max(horizon - 1, 1)
        forecast = source.forecast(horizon=reach, draws=draws, seed=derived_seed(seed, k))
        label = source.spec_id
    else:
        forecast = source
        label = "forecast"
        if forecast.paths.shape[0] < draws:
            raise SpecError(f"the forecast given for covariate {name!r} has {forecast.paths.shape[0]} paths; "
                            f"{draws} are needed (one per path of this forecast)")
        missing = [p for p in needed if p not in forecast.periods]
        if missing:
            raise SpecError(f"the forecast given for covariate {name!r} does not cover {missing}")
    held = []
    transform = fit.info["covariate_transforms"][k]
    cols = [forecast.periods.index(p) for p in needed]
    for r, region in enumerate(fit.regions):
        raw = forecast.paths[:draws, :, forecast.regions.index(region)] if region in forecast.regions else None
        if raw is None or np.isnan(raw[:, cols]).any():
            held.append(region)
            continue
        steps[:, 1:, r, k] = standardise(raw[:, cols], transform)
    return {"mode": "modelled", "source": label, "origin": origin, "held_regions": held}


def standardise(raw: np.ndarray, transform: dict) -> np.ndarray:
    """Return raw covariate values on the fitted scale: log1p first when the transform says so, then centred
    and scaled."""
    values = np.log1p(np.maximum(raw, 0.0)) if transform.get("log1p") else raw
    return (values - transform["centre"]) / transform["spread"]


def derived_seed(seed: int, k: int) -> int:
    """Return the seed of covariate k's forecast: fixed by `seed`, independent of the forecast's own random numbers."""
    return int(np.random.SeedSequence([int(seed), 7001 + k]).generate_state(1)[0])


def covariate_term(beta: np.ndarray, state: dict, covariates: CovariatePaths | None, step: int) -> np.ndarray | float:
    """Return beta . x per (draw, region) at `step` (0-based): `covariates.steps` when given, else the held last values.

    `beta` is (draw, covariate); 0.0 when the model has no covariates.
    """
    if beta is None or beta.shape[-1] == 0:
        return 0.0
    if covariates is None:
        return beta @ np.asarray(state["x_last"]).T
    return np.einsum("dk,drk->dr", beta, covariates.steps[:, step])

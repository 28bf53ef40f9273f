"""Forecasting a Fit by joint simulation: the question's checks, its randomness, its scenario and
covariate paths, and the family's simulator (looked up in models.core.registry)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from indicators import add_months
from models.core.errors import SpecError
from models.core.registry import family
from models.core.spec import ModelSpec
from models.questions.covariates import CovariatePaths, covariate_paths
from models.questions.paths import Forecast
from models.questions.uncertainty import group_of_paths, posterior_groups


class Fitted(Protocol):
    """What forecasting reads of a fit (models.fitting.fit.Fit is one): its spec, posterior samples and the
    simulation state after `last_period`. Fitting sits above this module and calls it, so it names no class."""

    spec: ModelSpec
    state: dict[str, np.ndarray]
    regions: list[str]
    last_period: str
    data_hash: str

    @property
    def spec_id(self) -> str:
        """The short identity of the spec."""
        ...

    def samples(self) -> dict[str, np.ndarray]:
        """Posterior samples per parameter, chain and draw flattened into the first axis."""
        ...

    def region_index(self, region: str) -> int:
        """The position of a region; SpecError if the fit does not cover it."""
        ...


def draw_randomness(n_samples: int, draws: int, horizon: int, n_regions: int, seed: int, *,
                    posterior_draws: int | None = None, grid: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return (posterior sample index per path, uniforms (draws, horizon, regions)) from `seed`.

    The paths are grouped (models.questions.uncertainty.group_of_paths): `posterior_draws` posterior samples (default
    models.questions.uncertainty.posterior_groups) are drawn, and every path of a group uses its group's sample.
    grid=False: every path has its own uniforms (the predictive sample). grid=True: the groups share their
    uniforms (path i reads set i // groups), so that per-draw values differ by the parameters, not by the
    simulation's noise (common random numbers across posterior draws; see models.questions.uncertainty).
    """
    rng = np.random.default_rng(seed)
    groups = posterior_groups(draws, n_samples, posterior_draws)
    chosen = rng.choice(n_samples, size=groups, replace=groups > n_samples)
    idx = chosen[group_of_paths(draws, groups)]
    if grid:
        sets = rng.random((-(-draws // groups), horizon, n_regions))
        uniforms = sets[np.arange(draws) // groups]
    else:
        uniforms = rng.random((draws, horizon, n_regions))
    return idx, np.clip(uniforms, 1e-12, 1 - 1e-12)


def simulate_forecast(fit: Fitted, horizon: int = 6, draws: int = 1000, seed: int = 0, *,
                      cut: tuple[str, str] | None = None, scenario: dict | None = None,
                      covariates: dict | CovariatePaths | None = None,
                      posterior_draws: int | None = None, grid: bool = False,
                      condition: tuple[str, float] | None = None) -> Forecast:
    """Return a Forecast of `draws` joint paths for steps 1..horizon after the fit's `last_period`.

    The paths come in `posterior_draws` groups, one posterior draw each (default: see
    models.questions.uncertainty.posterior_groups); the Forecast's `groups` says which path is in which. grid=True
    gives the posterior grid instead (the groups share their random numbers: see draw_randomness), read
    for credible intervals; its `meta["grid"]` is True.

    cut=(source, target) removes the source->target neighbour channel (same random numbers as
    the uncut run with the same seed). scenario={region: values} replaces that region's
    simulated values: a list per step (None = simulated), a dict {period: value}, or
    {"scale": factor} multiplying the simulated values. covariates={name: Fit or Forecast of that
    covariate indicator} moves those covariates forward with their own model (path i feeds path i;
    see models.questions.covariates); the others are held at their last value. A CovariatePaths (the
    `covariates` of an earlier Forecast) reuses exactly the covariate paths of that forecast.
    The Forecast's `covariates_mode` says "none", "held", "modelled" or "mixed".
    condition=(region, threshold) (families where `can_condition` holds): that region's paths are drawn given
    that it stays below the threshold and the Forecast's `no_crossing` holds each path's probability of never
    reaching it (Rao-Blackwellised; read by models.questions.events and Forecast.probability, not a sample of the
    region).
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise SpecError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not isinstance(draws, int) or draws < 1:
        raise SpecError(f"draws must be an integer >= 1, got {draws!r}")
    periods = [add_months(fit.last_period, h) for h in range(1, horizon + 1)]
    cut_idx = (fit.region_index(cut[0]), fit.region_index(cut[1])) if cut is not None else None
    scen = scenario_values(fit, scenario, periods)
    samples = fit.samples()
    n_samples = next(iter(samples.values())).shape[0]
    idx, uniforms = draw_randomness(n_samples, draws, horizon, len(fit.regions), seed,
                                    posterior_draws=posterior_draws, grid=grid)
    n_groups = posterior_groups(draws, n_samples, posterior_draws)  # as draw_randomness grouped the paths
    if grid:  # the covariates share their paths across draws too, like the random numbers
        x_paths = forecast_covariates(fit, covariates, horizon, -(-draws // n_groups), seed)
        x_paths = x_paths.rows(np.arange(draws) // n_groups) if x_paths is not None else None
    else:
        x_paths = forecast_covariates(fit, covariates, horizon, draws, seed)
    simulate = family(fit.spec.family).simulate
    extra = {}
    if condition is not None:
        if not can_condition(fit, condition[0], scenario):
            raise SpecError(f"a {fit.spec.family} forecast cannot be conditioned on {condition[0]!r} "
                            "(its simulator does not support it, or a scenario sets that region)")
        extra["condition"] = (fit.region_index(condition[0]), float(condition[1]))
    paths = simulate(fit.spec, samples, fit.state, idx=idx, uniforms=uniforms, cut=cut_idx, scenario=scen,
                     covariates=x_paths, **extra)
    paths, no_crossing = paths if condition is not None else (paths, None)
    meta = {"spec_id": fit.spec_id, "seed": seed, "cut": list(cut) if cut else None,
            "scenario": bool(scenario), "data_hash": fit.data_hash, "normalise": fit.spec.normalise,
            "posterior_draws": n_groups, "grid": grid,
            "condition": [condition[0], float(condition[1])] if condition is not None else None}
    return Forecast(paths, periods, fit.regions, indicator=fit.spec.indicator,
                    covariates_mode=x_paths.mode if x_paths is not None else "none", meta=meta,
                    covariates=x_paths, groups=group_of_paths(draws, n_groups), no_crossing=no_crossing)


def can_condition(fit: Fitted, region: str, scenario: dict | None = None) -> bool:
    """Return whether a forecast of `fit` can be conditioned on `region` staying below a threshold: its family's
    family conditions (`Family.conditions`) and no scenario sets that region."""
    return family(fit.spec.family).conditions and not (scenario and region in scenario)


def forecast_covariates(fit: Fitted, covariates, horizon: int, draws: int, seed: int) -> CovariatePaths | None:
    """Return the covariate paths a forecast of `fit` reads (None for a model without covariates)."""
    if not fit.spec.covariates:
        if covariates:
            raise SpecError("this model has no covariates; fit one with covariates=[...] to move them")
        return None
    if isinstance(covariates, CovariatePaths):
        if covariates.names != list(fit.spec.covariates):
            raise SpecError(f"covariate paths are of {covariates.names}, this model's covariates are "
                            f"{list(fit.spec.covariates)}")
        return covariates.first(draws, horizon)
    return covariate_paths(fit, horizon=horizon, draws=draws, seed=seed, sources=covariates)


def scenario_values(fit: Fitted, scenario: dict | None, periods: list[str]) -> dict[int, np.ndarray] | None:
    """Return a scenario as {region index: values per step (NaN = simulated) or a 0-d scale factor}, or None.

    Raises SpecError for unknown regions, periods outside the horizon, too many values, negative values,
    or values above the family's `value_ceiling` (shares: 1).
    """
    if not scenario:
        return None
    ceiling = getattr(family(fit.spec.family).model, "value_ceiling", None)
    out = {}
    for region, values in scenario.items():
        r = fit.region_index(region)
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
        if ceiling is not None and out[r].ndim and np.any(bad > ceiling):
            raise SpecError(f"scenario for {region!r} has values above {ceiling:g}; "
                            f"{fit.spec.family} values lie in [0, {ceiling:g}]")
    return out

"""Event and spillover probabilities read from joint simulated paths."""

from __future__ import annotations

import numpy as np

from models.errors import SpecError
from models.forecast import INTERVAL_LEVEL, Forecast

BOOTSTRAP_RESAMPLES = 2000


def exceedance(forecast: Forecast, region: str, threshold: float) -> dict:
    """Return {"per_step": [P(y[h] >= k) for h], "within": P(any month 1..H has y >= k), "periods"}."""
    hits = forecast.region_paths(region) >= threshold
    return {"per_step": hits.mean(axis=0).tolist(), "within": float(hits.any(axis=1).mean()),
            "periods": forecast.periods, "threshold": threshold}


def spillover(fit, *, source: str, target: str, threshold: float, horizon: int = 6, scenario=None,
              draws: int = 1000, seed: int = 0, covariates=None) -> dict:
    """Return the answer to "will the target reach `threshold` within `horizon`, and how much is the source's?".

    Keys: probability (target has any month >= threshold), probability_without_source (the same
    with the source->target channel cut, same random numbers), attributable (their difference),
    attributable_interval (90% paired bootstrap over the simulated paths: Monte Carlo error of
    the difference given the posterior), channel_share (E[target uncut] - E[target cut]) /
    E[target uncut] over all steps: the expected share of the target's mean that flows through
    the channel, echoes included), normalise, interval_method and the question asked.
    A scenario (values per step, {period: value} or {"scale": f}) replaces the source's path in both runs;
    `covariates` (see Fit.forecast) moves covariates with their own models, the same paths in both runs.
    """
    s, t = fit.region_index(source), fit.region_index(target)
    if s == t:
        raise SpecError(f"source and target are both {source!r}; choose two neighbouring regions")
    if not fit.spec.spillover:
        raise SpecError("this model has no neighbour component (spillover=False); fit one with spillover=True")
    for name in (source, target):
        if name in fit.skipped_regions:
            raise SpecError(f"region {name!r} has no observations of {fit.spec.indicator!r}; no spillover can be computed")
    if not bool(fit.state["has_ne"][t]):
        raise SpecError(f"region {target!r} has no neighbours with data, so nothing can spill into it")
    if float(fit.state["weights"][s, t]) <= 0:
        raise SpecError(f"{source!r} is not a neighbour of {target!r}: there is no {source}->{target} channel")
    scen = {source: scenario} if scenario is not None else None
    uncut = fit.forecast(horizon=horizon, draws=draws, seed=seed, scenario=scen, covariates=covariates)
    cut = fit.forecast(horizon=horizon, draws=draws, seed=seed, scenario=scen, cut=(source, target),
                       covariates=uncut.covariates)
    y, y0 = uncut.paths[:, :, t], cut.paths[:, :, t]
    hit, hit0 = (y >= threshold).any(axis=1), (y0 >= threshold).any(axis=1)
    diff = hit.astype(float) - hit0.astype(float)
    rng = np.random.default_rng(seed + 7919)
    boot = diff[rng.integers(0, diff.size, size=(BOOTSTRAP_RESAMPLES, diff.size))].mean(axis=1)
    tail = (1 - INTERVAL_LEVEL) / 2
    mean_uncut = float(y.mean())
    channel_share = (mean_uncut - float(y0.mean())) / mean_uncut if mean_uncut > 0 else 0.0
    return {
        "source": source, "target": target, "threshold": threshold, "horizon": horizon,
        "probability": float(hit.mean()),
        "probability_without_source": float(hit0.mean()),
        "attributable": float(diff.mean()),
        "attributable_interval": [float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail))],
        "interval_method": f"{int(INTERVAL_LEVEL * 100)}% paired bootstrap over {diff.size} simulated paths",
        "channel_share": channel_share,
        "normalise": fit.spec.normalise,
        "scenario": scenario is not None,
        "covariates_mode": uncut.covariates_mode,
        "draws": draws, "seed": seed,
    }

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


def check_spillover_question(fit, *, source: str, target: str) -> tuple[int, int]:
    """Return the (source, target) region indices of a fit when the source->target channel can be asked about.

    Raises SpecError for an unknown region, source == target, a model without neighbour component,
    a region without observations, a target without neighbours with data, or a source that is not
    a neighbour of the target.
    """
    s, t = fit.region_index(source), fit.region_index(target)
    if s == t:
        raise SpecError(f"source and target are both {source!r}; choose two neighbouring regions")
    if not fit.spec.spillover:
        raise SpecError("this model has no neighbour component (spillover=False); fit one with spillover=True")
    for name in (source, target):
        if name in fit.skipped_regions:
            raise SpecError(f"region {name!r} has no observations of {fit.spec.indicator!r}; "
                            "no spillover can be computed")
    if not bool(fit.state["has_ne"][t]):
        raise SpecError(f"region {target!r} has no neighbours with data, so nothing can spill into it")
    if float(fit.state["weights"][s, t]) <= 0:
        raise SpecError(f"{source!r} is not a neighbour of {target!r}: there is no {source}->{target} channel")
    return s, t


def spillover_forecasts(fit, *, source: str, target: str, horizon: int = 6, scenario=None, draws: int = 1000,
                        seed: int = 0, covariates=None) -> tuple[Forecast, Forecast]:
    """Return (uncut, cut): the fit's forecast and the same with the source->target channel cut, drawn
    with the same random numbers and covariate paths, after `check_spillover_question`.

    A scenario (values per step, {period: value} or {"scale": f}) replaces the source's path in both runs.
    """
    check_spillover_question(fit, source=source, target=target)
    scen = {source: scenario} if scenario is not None else None
    uncut = fit.forecast(horizon=horizon, draws=draws, seed=seed, scenario=scen, covariates=covariates)
    cut = fit.forecast(horizon=horizon, draws=draws, seed=seed, scenario=scen, cut=(source, target),
                       covariates=uncut.covariates)
    return uncut, cut


def spillover_answer(uncut: Forecast, cut: Forecast, *, source: str, target: str, threshold: float, seed: int,
                     scenario=None, normalise: str | None = None) -> dict:
    """Return the answer to "will the target reach `threshold` within the horizon, and how much is the source's?"
    read from an `uncut` forecast and the `cut` one (source->target channel cut, same random numbers).

    Keys: probability (target has any month >= threshold), probability_without_source (the same
    in the cut run), attributable (their difference), attributable_interval (90% paired bootstrap
    over the simulated paths, resampled from `seed`: Monte Carlo error of the difference given the
    posterior), channel_share ((E[target uncut] - E[target cut]) / E[target uncut] over all steps:
    the expected share of the target's mean that flows through the channel, echoes included),
    normalise (given, else the one recorded with the uncut forecast), interval_method, covariates_mode
    and the question asked (`scenario` is only reported: the forecasts already carry it).
    """
    if uncut.paths.shape != cut.paths.shape or uncut.regions != cut.regions:
        raise SpecError(f"the uncut paths {uncut.paths.shape} and the cut paths {cut.paths.shape} are not one pair")
    t = uncut.regions.index(target)
    y, y0 = uncut.paths[:, :, t], cut.paths[:, :, t]
    hit, hit0 = (y >= threshold).any(axis=1), (y0 >= threshold).any(axis=1)
    diff = hit.astype(float) - hit0.astype(float)
    rng = np.random.default_rng(seed + 7919)
    boot = diff[rng.integers(0, diff.size, size=(BOOTSTRAP_RESAMPLES, diff.size))].mean(axis=1)
    tail = (1 - INTERVAL_LEVEL) / 2
    mean_uncut = float(y.mean())
    channel_share = (mean_uncut - float(y0.mean())) / mean_uncut if mean_uncut > 0 else 0.0
    return {
        "source": source, "target": target, "threshold": threshold, "horizon": uncut.horizon,
        "probability": float(hit.mean()),
        "probability_without_source": float(hit0.mean()),
        "attributable": float(diff.mean()),
        "attributable_interval": [float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail))],
        "interval_method": f"{int(INTERVAL_LEVEL * 100)}% paired bootstrap over {diff.size} simulated paths",
        "channel_share": channel_share,
        "normalise": normalise if normalise is not None else uncut.meta.get("normalise"),
        "scenario": scenario is not None,
        "covariates_mode": uncut.covariates_mode,
        "draws": int(uncut.paths.shape[0]), "seed": seed,
    }


def spillover(fit, *, source: str, target: str, threshold: float, horizon: int = 6, scenario=None,
              draws: int = 1000, seed: int = 0, covariates=None) -> dict:
    """Return the spillover answer of `spillover_answer` for a fit: the checked pair of forecasts
    (`spillover_forecasts`, `draws` paths from `seed`) read at `threshold` within `horizon`.

    `covariates` (see Fit.forecast) moves covariates with their own models, the same paths in both runs.
    """
    uncut, cut = spillover_forecasts(fit, source=source, target=target, horizon=horizon, scenario=scenario,
                                     draws=draws, seed=seed, covariates=covariates)
    return spillover_answer(uncut, cut, source=source, target=target, threshold=threshold, seed=seed,
                            scenario=scenario, normalise=fit.spec.normalise)

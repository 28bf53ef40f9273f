"""Event and spillover probabilities read from joint simulated paths, and the recipes that answer a question from
a source of forecasts (`spillover_of`, `probability_of`; models.questions.sources): the library and the service
both call them, with fresh simulations or with the service's cache."""

from __future__ import annotations

import numpy as np

from models.core.errors import SpecError
from models.questions.answers import ProbabilityAnswer, SpilloverAnswer
from models.questions.paths import Forecast
from models.questions.sources import FitSource, ForecastSource
from models.questions.uncertainty import (
    credible_interval,
    group_means,
    interval_method,
    predictive,
    share_per_draw,
    share_standard_error,
    share_through,
)

CHANNEL_MIN_EFFECT = 0.01
"""A channel "exists" for a question when it adds more than this to the event's probability (one point)."""


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


def spillover_answer(uncut: Forecast, cut: Forecast, *, source: str, target: str, threshold: float, seed: int,
                     scenario=None, normalise: str | None = None,
                     grid: tuple[Forecast, Forecast] | None = None,
                     event_grid: tuple[Forecast, Forecast] | None = None) -> SpilloverAnswer:
    """Return the answer (SpilloverAnswer) to "will the target reach `threshold` within the horizon, and how
    much is the source's?" read from an `uncut` forecast and the `cut` one (source->target channel cut, same
    random numbers).

    Predictive values (means over the paths): probability (target has any month >= threshold),
    probability_without_source (the same in the cut run), attributable (their difference, paired per path),
    channel_share ((E[target uncut] - E[target cut]) / E[target uncut] over all steps: the expected share of
    the target's mean that flows through the channel, echoes included). Each has `<name>_interval`: the 90%
    credible interval over the posterior draws, read from the posterior `grid` pair (channel share; and the
    event's three values when no `event_grid` is given) and the `event_grid` pair (conditioned on no crossing
    at `threshold`: Rao-Blackwellised per-draw probabilities; see models.questions.uncertainty); without grids a 90%
    Monte Carlo interval. `mc_standard_error` {name: Monte Carlo standard error}; `interval_method` names the
    intervals. `channel_probability`: the posterior probability that the channel adds more than
    `channel_min_effect` (CHANNEL_MIN_EFFECT) to the event's probability (None without grids). Also: normalise
    (given, else the one recorded with the uncut forecast), covariates_mode,
    posterior_draws and the question asked (`scenario` is only reported).
    """
    for a, b in [(uncut, cut)] + [pair for pair in (grid, event_grid) if pair is not None]:
        if a.paths.shape != b.paths.shape or a.regions != b.regions:
            raise SpecError(f"the uncut paths {a.paths.shape} and the cut paths {b.paths.shape} are not one pair")
    values = _spillover_values(uncut, cut, target, threshold)
    per_draw = {}
    if grid is not None:
        per_draw |= _spillover_per_draw(*grid, target, threshold, events=event_grid is None)
    if event_grid is not None:
        per_draw |= _event_per_draw(*event_grid)
    per_draw = per_draw or None
    answer = {"source": source, "target": target, "threshold": threshold, "horizon": uncut.horizon}
    errors = {}
    bounds = {"probability": (0.0, 1.0), "probability_without_source": (0.0, 1.0), "attributable": (-1.0, 1.0),
              "channel_share": (None, 1.0)}
    for name, (value, se) in values.items():
        answer[name], errors[name] = value, se
        interval = None if per_draw is None or name not in per_draw else credible_interval(
            per_draw[name], value, lo=bounds[name][0], hi=bounds[name][1])
        answer[f"{name}_interval"] = interval if interval is not None else [value - 1.6449 * se, value + 1.6449 * se]
    answer["channel_probability"] = (None if per_draw is None or "attributable" not in per_draw
                                     else channel_probability(per_draw["attributable"]))
    answer["channel_min_effect"] = CHANNEL_MIN_EFFECT
    shown = event_grid or grid
    grid_draws = shown[0].posterior_draws if shown is not None else None
    return SpilloverAnswer(**answer, **{
        "mc_standard_error": errors,
        "interval_method": interval_method(grid_draws, shown[0].paths_per_draw if shown is not None else None,
                                           int(uncut.paths.shape[0]), rao_blackwellised=event_grid is not None),
        "posterior_draws": grid_draws,
        "normalise": normalise if normalise is not None else uncut.meta.get("normalise"),
        "scenario": scenario is not None,
        "covariates_mode": uncut.covariates_mode,
        "draws": int(uncut.paths.shape[0]), "seed": seed,
    })


def channel_probability(attributable_per_draw) -> float:
    """Return the posterior probability that the channel exists at the question's scale: the share of posterior
    draws whose attributable difference exceeds `CHANNEL_MIN_EFFECT` (one percentage point)."""
    return float((np.asarray(attributable_per_draw, dtype=float) > CHANNEL_MIN_EFFECT).mean())


def _event_per_draw(uncut: Forecast, cut: Forecast) -> dict:
    """Return {name: values per posterior draw} of the event's three quantities over an event grid pair (paths
    conditioned on no crossing, `no_crossing` their probability of never crossing)."""
    if uncut.no_crossing is None or cut.no_crossing is None:
        raise SpecError("the event grid pair carries no no-crossing probabilities (simulate it with a condition)")
    stay, stay0 = uncut.no_crossing, cut.no_crossing
    groups = uncut.groups
    return {"probability": 1.0 - group_means(stay, groups),
            "probability_without_source": 1.0 - group_means(stay0, groups),
            "attributable": group_means(stay0 - stay, groups)}


def _target_hits(uncut: Forecast, cut: Forecast, target: str, threshold: float):
    """Return (target uncut paths, cut paths, uncut hits, cut hits) of `target` reaching `threshold`."""
    t = uncut.regions.index(target)
    y, y0 = uncut.paths[:, :, t], cut.paths[:, :, t]
    return y, y0, (y >= threshold).any(axis=1).astype(float), (y0 >= threshold).any(axis=1).astype(float)


def _spillover_values(uncut: Forecast, cut: Forecast, target: str, threshold: float) -> dict:
    """Return {name: (predictive value, Monte Carlo standard error)} of the four spillover quantities."""
    y, y0, hit, hit0 = _target_hits(uncut, cut, target, threshold)
    groups = uncut.groups
    return {"probability": predictive(hit, groups), "probability_without_source": predictive(hit0, groups),
            "attributable": predictive(hit - hit0, groups),
            "channel_share": (share_through(y, y0), share_standard_error(y.mean(axis=1), y0.mean(axis=1), groups))}


def _spillover_per_draw(uncut: Forecast, cut: Forecast, target: str, threshold: float, *,
                        events: bool = True) -> dict:
    """Return {name: values per posterior draw} of the spillover quantities over a posterior grid pair: the
    channel share, and with `events` the event's three (read from hits; an event grid reads them better)."""
    y, y0, hit, hit0 = _target_hits(uncut, cut, target, threshold)
    groups = uncut.groups
    out = {"channel_share": share_per_draw(y.mean(axis=1), y0.mean(axis=1), groups)}
    if events:
        out |= {"probability": group_means(hit, groups), "probability_without_source": group_means(hit0, groups),
                "attributable": group_means(hit - hit0, groups)}
    return out


def spillover_of(forecasts: ForecastSource, *, source: str, target: str, threshold: float, horizon: int,
                 scenario=None) -> SpilloverAnswer:
    """Return the answer to the spillover question source -> target (`spillover_answer`) read from the
    forecasts of one source, fresh (models.questions.sources.FitSource) or cached (the service's): the question checked
    against its fit (`check_spillover_question`), the uncut and cut predictive runs, their posterior grids and
    the target's event grids at `threshold` within `horizon`; `scenario` sets the source's path in all of them.
    """
    check_spillover_question(forecasts.fit, source=source, target=target)
    scen = {source: scenario} if scenario is not None else None
    cuts = (None, (source, target))
    runs = [forecasts.run(horizon, cut=cut, scenario=scen, grid=grid) for grid in (False, True) for cut in cuts]
    events = [forecasts.event_grid(horizon, region=target, threshold=threshold, cut=cut, scenario=scen)
              for cut in cuts]
    return spillover_answer(runs[0], runs[1], source=source, target=target, threshold=threshold,
                            seed=forecasts.seed, scenario=scenario, normalise=forecasts.fit.spec.normalise,
                            grid=(runs[2], runs[3]), event_grid=None if events[0] is None else tuple(events))


def probability_of(forecasts: ForecastSource, *, region: str, threshold: float, horizon: int,
                   within: bool = True) -> ProbabilityAnswer:
    """Return the answer to "will `region` reach `threshold` within `horizon`" (or per month with within=False)
    read from the forecasts of one source (see `spillover_of`): the predictive probability from its run, the
    credible interval from its event grid (within=True, families that can condition) or else its posterior grid
    (see Forecast.probability)."""
    grid = forecasts.event_grid(horizon, region=region, threshold=threshold) if within else None
    if grid is None:
        grid = forecasts.run(horizon, grid=True)
    reading = forecasts.run(horizon).probability(region, threshold, within=within, grid=grid)
    return ProbabilityAnswer(**reading | {"region": region, "horizon": horizon})


def spillover(fit, *, source: str, target: str, threshold: float, horizon: int = 6, scenario=None,
              draws: int = 1000, seed: int = 0, covariates=None) -> SpilloverAnswer:
    """Return the spillover answer (`spillover_of`) of a fit, read from fresh simulations: `draws` predictive
    paths from `seed` and the posterior and event grids, at `threshold` within `horizon`.

    `covariates` (see Fit.forecast) moves covariates with their own models, the same paths in the uncut and cut
    runs.
    """
    return spillover_of(FitSource(fit, draws=draws, seed=seed, covariates=covariates), source=source,
                        target=target, threshold=threshold, horizon=horizon, scenario=scenario)

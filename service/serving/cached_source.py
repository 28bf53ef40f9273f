"""The service's source of forecasts (`CachedSource`, a models.questions.sources.ForecastSource): a served
version's stored paths, and the runs and grids simulated from its posterior once and then kept in the path cache.
The questions are answered by the library's recipes (models.questions.events.spillover_of, probability_of) read
from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from models.questions.answers import ProbabilityAnswer, SpilloverAnswer
from models.questions.events import probability_of, spillover_of
from models.questions.paths import Forecast
from models.questions.simulation import can_condition
from models.questions.sources import grid_size
from service.serving.path_cache import PathCache
from service.serving.registry import ServedVersion


def cache_key(what: str, version: ServedVersion, *question, cut: tuple[str, str] | None = None,
              scenario: dict | None = None) -> tuple:
    """Return the path-cache key of a simulation `what` ("cut", "grid", "event") of `version`: the version, the
    `question`'s own parts, the cut as a tuple (None: uncut) and the scenario as sorted JSON."""
    return (what, version.version_id, *question, tuple(cut) if cut else None, json.dumps(scenario, sort_keys=True))


def cached_run(cache: PathCache, version: ServedVersion, stored, fit, *, cut: tuple[str, str] | None = None,
               scenario: dict | None = None, grid: bool = False):
    """Return the full-horizon forecast (models.Forecast) of `version` for (cut, scenario, grid).

    The uncut, no-scenario paths are the `stored` ones; cut or scenario paths are simulated once from the
    loaded `fit`, over the stored horizon with the stored seed and draws (so the same random numbers) and the
    stored covariate paths, then cached under (version, cut, scenario). grid=True: the posterior grid of that
    run (models.questions.sources.grid_size; credible intervals are read from it), cached likewise.
    """
    if cut is None and not scenario and not grid:
        return stored
    size = grid_size() if grid else {"draws": version.paths_draws}
    key = cache_key("grid" if grid else "cut", version, cut=cut, scenario=scenario)
    return cache.get(key, lambda: fit.forecast(
        horizon=version.paths_horizon, seed=version.paths_seed, cut=tuple(cut) if cut else None,
        scenario=scenario, covariates=stored.covariates, grid=grid, **size))


def cached_event_grid(cache: PathCache, version: ServedVersion, stored, fit, *, region: str, threshold: float,
                      horizon: int, cut: tuple[str, str] | None = None, scenario: dict | None = None):
    """Return the event grid of one question (`region` reaching `threshold` within `horizon`; see
    models.questions.sources.ForecastSource.event_grid) of `version`, or None where the fit's family cannot
    condition on it.

    Simulated once per (version, question, cut, scenario) with the stored seed and covariate paths and cached
    with only the region's column (its `no_crossing` is what is read), so a world model's cache stays small.
    """
    if not can_condition(fit, region, scenario):
        return None
    key = cache_key("event", version, region, float(threshold), horizon, cut=cut, scenario=scenario)

    def simulate():
        grid = fit.forecast(horizon=horizon, seed=version.paths_seed, cut=tuple(cut) if cut else None,
                            scenario=scenario, covariates=stored.covariates, grid=True,
                            condition=(region, float(threshold)), **grid_size(event=True))
        return grid.only(region)

    return cache.get(key, simulate)


def no_checkpoint() -> None:
    """A checkpoint that never stops the computation."""


class CachedSource:
    """The forecasts of a served `version` (a models.questions.sources.ForecastSource): its `stored` paths, and the runs
    and grids of its loaded `fit` from the path cache (`cached_run`, `cached_event_grid`), all with the stored
    seed and covariate paths. `checkpoint()` is called before each of them; it may raise to stop the
    computation (service.serving.questions)."""

    def __init__(self, cache: PathCache, version: ServedVersion, stored: Forecast, fit,
                 checkpoint: Callable[[], None] = no_checkpoint) -> None:
        self.cache, self.version, self.stored, self.fit = cache, version, stored, fit
        self.seed = version.paths_seed
        self.checkpoint = checkpoint

    def run(self, horizon: int, *, cut: tuple[str, str] | None = None, scenario: dict | None = None,
            grid: bool = False) -> Forecast:
        """Return the first `horizon` steps of the cached run (see models.questions.sources.ForecastSource.run)."""
        self.checkpoint()
        return cached_run(self.cache, self.version, self.stored, self.fit, cut=cut, scenario=scenario,
                          grid=grid).first_steps(horizon)

    def event_grid(self, horizon: int, *, region: str, threshold: float, cut: tuple[str, str] | None = None,
                   scenario: dict | None = None) -> Forecast | None:
        """Return the cached event grid (see models.questions.sources.ForecastSource.event_grid)."""
        self.checkpoint()
        return cached_event_grid(self.cache, self.version, self.stored, self.fit, region=region,
                                 threshold=threshold, horizon=horizon, cut=cut, scenario=scenario)


def probability_from_paths(cache: PathCache, version: ServedVersion, stored, fit, *, region: str,
                           threshold: float, horizon: int, within: bool,
                           checkpoint: Callable[[], None] = no_checkpoint) -> ProbabilityAnswer:
    """Return the exceedance answer (models.questions.events.probability_of) of `version`, read from its
    `CachedSource`."""
    return probability_of(CachedSource(cache, version, stored, fit, checkpoint), region=region,
                          threshold=threshold, horizon=horizon, within=within)


def spillover_from_paths(cache: PathCache, version: ServedVersion, stored, fit, *, source: str, target: str,
                         threshold: float, horizon: int, scenario=None,
                         checkpoint: Callable[[], None] = no_checkpoint) -> SpilloverAnswer:
    """Return the spillover answer (models.questions.events.spillover_of) of `version` for source -> target, read from
    its `CachedSource`: the uncut paths are the stored ones, everything else is simulated once and cached."""
    return spillover_of(CachedSource(cache, version, stored, fit, checkpoint), source=source, target=target,
                        threshold=threshold, horizon=horizon, scenario=scenario)

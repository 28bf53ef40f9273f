"""Where the forecasts a question reads come from: the `ForecastSource` protocol, and `FitSource`, fresh
simulations from a fit (the library's source; the service reads its cache through its own, in
service.serving.cached_source). The recipes of models.questions.events ask a source and never care which it is."""

from __future__ import annotations

from typing import Any, Protocol

from models.questions.paths import Forecast
from models.questions.simulation import can_condition, forecast_covariates
from models.questions.uncertainty import (
    EVENT_GRID_PATHS_PER_DRAW,
    EVENT_GRID_POSTERIOR_DRAWS,
    GRID_PATHS_PER_DRAW,
    GRID_POSTERIOR_DRAWS,
)


def grid_size(event: bool = False) -> dict:
    """Return the forecast arguments of a posterior grid: {"draws", "posterior_draws"} (event=True: the grid of
    an event conditioned on no crossing, models.questions.uncertainty.EVENT_GRID_*)."""
    draws, paths = (EVENT_GRID_POSTERIOR_DRAWS, EVENT_GRID_PATHS_PER_DRAW) if event else (
        GRID_POSTERIOR_DRAWS, GRID_PATHS_PER_DRAW)
    return {"draws": draws * paths, "posterior_draws": draws}


class ForecastSource(Protocol):
    """The forecasts of one fit that a question reads, all from one seed and with the same covariate paths."""

    fit: Any
    """The posterior the question is checked against (models.Fit)."""
    seed: int
    """The seed of every forecast the source gives (reported with the answer)."""

    def run(self, horizon: int, *, cut: tuple[str, str] | None = None, scenario: dict | None = None,
            grid: bool = False) -> Forecast:
        """Return the forecast of steps 1..horizon with the channel `cut` and the `scenario` applied: the
        predictive paths, or with grid=True the posterior grid (see models.questions.uncertainty)."""
        ...

    def event_grid(self, horizon: int, *, region: str, threshold: float, cut: tuple[str, str] | None = None,
                   scenario: dict | None = None) -> Forecast | None:
        """Return the event grid of `region` reaching `threshold` within `horizon` (paths conditioned on no
        crossing, see Forecast.no_crossing), or None where the fit's family cannot condition on it."""
        ...


class FitSource:
    """Fresh simulations from `fit`: `draws` predictive paths from `seed`, covariates moved as `covariates`
    says (see models.questions.simulation.simulate_forecast)."""

    def __init__(self, fit: Any, *, draws: int = 1000, seed: int = 0, covariates: Any = None) -> None:
        self.fit = fit
        self.draws = draws
        self.seed = seed
        self.covariates = covariates

    def run(self, horizon: int, *, cut: tuple[str, str] | None = None, scenario: dict | None = None,
            grid: bool = False, condition: tuple[str, float] | None = None) -> Forecast:
        """Return the fit's forecast (see ForecastSource.run); `condition` as in Fit.forecast."""
        covariates = self.covariates
        if cut is not None and not grid:
            # the very covariate paths of the uncut run (same function, same arguments), so that a cut
            # answer differs from the uncut one by the channel only
            covariates = forecast_covariates(self.fit, covariates, horizon, self.draws, self.seed)
        size = grid_size(event=condition is not None) if grid else {"draws": self.draws}
        return self.fit.forecast(horizon=horizon, seed=self.seed, cut=cut, scenario=scenario,
                                 covariates=covariates, grid=grid, condition=condition, **size)

    def event_grid(self, horizon: int, *, region: str, threshold: float, cut: tuple[str, str] | None = None,
                   scenario: dict | None = None) -> Forecast | None:
        """Return the fit's event grid (see ForecastSource.event_grid)."""
        if not can_condition(self.fit, region, scenario):
            return None
        return self.run(horizon, cut=cut, scenario=scenario, grid=True, condition=(region, threshold))

"""Baseline forecasters scored beside every model.

A forecaster is ``callable(panel_until_origin, indicator, horizon, seed) -> np.ndarray`` of
shape (samples, horizon, n_regions) in ``panel.regions`` order (see ``models.evaluation.backtest``).
The panel given holds data up to the forecast origin only; step 1 is the month after its
last period. A region with no observed value gives NaN samples (it is not scored).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

BOOTSTRAP_MONTHS = 12
BOOTSTRAP_DRAWS = 1000


class Forecaster(Protocol):
    """What the backtest calls: returns (samples, horizon, n_regions) forecast paths."""

    def __call__(self, panel, indicator: str, horizon: int, seed: int) -> np.ndarray: ...


def _check_horizon(horizon: int) -> None:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month; got {horizon}.")


def _last_observed(values: np.ndarray) -> np.ndarray:
    """Return each region's last observed value (NaN for a region never observed)."""
    out = np.full(values.shape[0], np.nan)
    for r, row in enumerate(values):
        seen = np.flatnonzero(np.isfinite(row))
        if seen.size:
            out[r] = row[seen[-1]]
    return out


def zero_forecast(panel, indicator: str, horizon: int, seed: int = 0) -> np.ndarray:
    """Return a point mass at 0 for every month and region, shape (1, horizon, n_regions).

    Regions never observed get NaN.
    """
    _check_horizon(horizon)
    observed_any = np.isfinite(panel.values(indicator)).any(axis=1)
    level = np.where(observed_any, 0.0, np.nan)
    return np.broadcast_to(level, (1, horizon, level.size)).copy()


def persistence_forecast(panel, indicator: str, horizon: int, seed: int = 0) -> np.ndarray:
    """Return a point mass at each region's last observed value, shape (1, horizon, n_regions).

    The last observed value is taken even when the origin month itself is missing.
    """
    _check_horizon(horizon)
    last = _last_observed(panel.values(indicator))
    return np.broadcast_to(last, (1, horizon, last.size)).copy()


def bootstrap_forecast(
    panel,
    indicator: str,
    horizon: int,
    seed: int = 0,
    *,
    months: int = BOOTSTRAP_MONTHS,
    draws: int = BOOTSTRAP_DRAWS,
) -> np.ndarray:
    """Return draws from each region's last ``months`` observed values, shape (draws, horizon, n_regions).

    ViEWS' "conflictology" benchmark: every step of every path is an independent draw
    (with replacement) from those values, so months are independent given the history.
    A region with fewer observed months uses those it has; with none, NaN.
    """
    _check_horizon(horizon)
    rng = np.random.default_rng(seed)
    values = panel.values(indicator)
    out = np.full((draws, horizon, values.shape[0]), np.nan)
    for r, row in enumerate(values):
        history = row[np.isfinite(row)][-months:]
        if history.size:
            out[:, :, r] = rng.choice(history, size=(draws, horizon), replace=True)
    return out


BASELINES: dict[str, Forecaster] = {
    "zero": zero_forecast,
    "persistence": persistence_forecast,
    "bootstrap": bootstrap_forecast,
}

"""Lagged design of a count panel: which cells enter the likelihood and with what lags.

Pure numpy on a (region, period) array with NaN for missing months. A cell (r, t) enters the
likelihood only if y[r, t] and its own lag y[r, t-1] are observed (gaps are skipped, never read
as zero), every covariate's lag is observed, and, when the region has neighbours with data, at
least one neighbour is observed at t-1 (the neighbour mean is over the observed neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indicators import spatial_lag
from models.core.errors import SpecError

LEVEL_WINDOW = 12
"""Months in the region's own level L12: the mean of its last 12 observed months."""


@dataclass(frozen=True)
class CountDesign:
    """Arrays for the likelihood (one entry per usable cell) plus what simulation starts from."""

    y: np.ndarray            # (n_obs,) observed counts
    y_lag: np.ndarray        # (n_obs,) own value at t-1
    level_lag: np.ndarray    # (n_obs,) mean of the region's last 12 observed months up to t-1
    ne_lag: np.ndarray       # (n_obs,) neighbour mean at t-1 (0 where the region has no neighbours)
    x_lag: np.ndarray        # (n_obs, n_covariates) standardised covariates at t-1
    region_idx: np.ndarray   # (n_obs,) int region index
    period_idx: np.ndarray   # (n_obs,) int period index of the outcome
    has_ne: np.ndarray       # (n_regions,) bool: region has a neighbour with data
    fitted: np.ndarray       # (n_regions,) bool: region has at least one cell in the likelihood
    vol_lag: np.ndarray | None = None  # (n_obs,) sd of log1p over the region's last 12 observed months up to t-1


def effective_weights(weights: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Return W renormalised over alive sources: column r rescaled so its total is unchanged.

    `weights[q, r]` is the weight of source q into target r; `alive[q]` says whether q can
    contribute. Columns with no alive source become all zero.
    """
    w = np.where(alive[:, None], weights, 0.0)
    full = weights.sum(axis=0)
    part = w.sum(axis=0)
    scale = np.divide(full, part, out=np.zeros_like(full), where=part > 0)
    return w * scale[None, :]


def channel_weights(weights: np.ndarray, alive: np.ndarray, cut: tuple[int, int] | None = None) -> np.ndarray:
    """Return the simulation's neighbour weights: `effective_weights` over alive sources, with the
    source->target channel `cut` = (source index, target index) set to 0 (the other weights unchanged)."""
    w = effective_weights(weights, alive)
    if cut is not None:
        w = w.copy()
        w[cut[0], cut[1]] = 0.0
    return w


def standardised_covariates(panel, names) -> tuple[list[np.ndarray], list[dict]]:
    """Return (standardised covariate arrays, their transforms named) for the indicators `names` of `panel`;
    raises SpecError naming a covariate the panel does not have."""
    covs, transforms = [], []
    for name in names:
        if not panel.has(name):
            raise SpecError(f"the panel has no covariate indicator {name!r} (it has {panel.indicators})")
        cov, tr = standardise_covariate(np.asarray(panel.values(name), dtype=float))
        covs.append(cov)
        transforms.append({"name": name, **tr})
    return covs, transforms


def neighbour_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the neighbour term per (target, period): sum_q W[q,r] y[q,t] over observed q, renormalised.

    NaN where the target has neighbours but none is observed; 0 where it has no neighbours.
    """
    out = spatial_lag(values, weights, k=0)
    out[weights.sum(axis=0) == 0, :] = 0.0
    return out


def _over_observed_months(values: np.ndarray, statistic) -> np.ndarray:
    """Return per (region, period) ``statistic(observed values of the region)`` -- one number per observed
    month, computed over the months up to it -- carried forward over each gap that follows (NaN before
    the region's first observation)."""
    out = np.full(values.shape, np.nan)
    for r in range(values.shape[0]):
        idx = np.flatnonzero(~np.isnan(values[r]))
        if idx.size == 0:
            continue
        per_month = statistic(values[r, idx])
        pos = np.searchsorted(idx, np.arange(values.shape[1]), side="right") - 1
        ok = pos >= 0
        out[r, ok] = per_month[pos[ok]]
    return out


def rolling_level(values: np.ndarray, window: int = LEVEL_WINDOW) -> np.ndarray:
    """Return per (region, period) the mean of the region's last `window` observed months up to t."""
    def means(obs: np.ndarray) -> np.ndarray:
        csum = np.concatenate([[0.0], np.cumsum(obs)])
        k = np.arange(1, obs.size + 1)
        lo = np.maximum(k - window, 0)
        return (csum[k] - csum[lo]) / (k - lo)

    return _over_observed_months(values, means)


def rolling_log_sd(values: np.ndarray, window: int = LEVEL_WINDOW) -> np.ndarray:
    """Return per (region, period) the sd of log1p over the region's last `window` observed months up to t
    (0 with fewer than two; carried forward over gaps like `rolling_level`)."""
    def log_sds(obs: np.ndarray) -> np.ndarray:
        x = np.log1p(obs)
        c1 = np.concatenate([[0.0], np.cumsum(x)])
        c2 = np.concatenate([[0.0], np.cumsum(x * x)])
        k = np.arange(1, x.size + 1)
        lo = np.maximum(k - window, 0)
        n = k - lo
        mean = (c1[k] - c1[lo]) / n
        var = np.maximum((c2[k] - c2[lo]) / n - mean * mean, 0.0) * np.where(n > 1, n / np.maximum(n - 1, 1), 0.0)
        return np.sqrt(var)

    return _over_observed_months(values, log_sds)


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Return per (region, period) the median of the region's last `window` observed months up to t
    (carried forward over gaps like `rolling_level`)."""
    def medians(obs: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.full(window - 1, np.nan), obs])
        return np.nanmedian(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)

    return _over_observed_months(values, medians)


def last_window(values: np.ndarray, window: int = LEVEL_WINDOW) -> np.ndarray:
    """Return (region, window) of each region's last `window` observed values, oldest first, NaN-padded."""
    out = np.full((values.shape[0], window), np.nan)
    for r in range(values.shape[0]):
        obs = values[r, ~np.isnan(values[r])][-window:]
        if obs.size:
            out[r, window - obs.size :] = obs
    return out


def build_count_design(
    values: np.ndarray,
    weights: np.ndarray,
    covariates: list[np.ndarray],
    *,
    spillover: bool,
    first_period: int = 0,
    own_lag_months: int = 1,
) -> CountDesign:
    """Return the CountDesign of a (region, period) count array, its weights and covariate arrays;
    only outcomes at `first_period` or later enter (their lags may lie before it). The own lag is the
    median of the region's last `own_lag_months` observed months (1: the last month)."""
    n_regions, n_periods = values.shape
    observed = ~np.isnan(values)
    has_data = observed.any(axis=1)
    has_ne = (weights[has_data].sum(axis=0) > 0) if spillover else np.zeros(n_regions, bool)
    ne = neighbour_mean(values, weights) if spillover else np.zeros(values.shape)
    level = rolling_level(values)
    log_sd = rolling_log_sd(values)
    usable = np.zeros(values.shape, bool)
    usable[:, 1:] = observed[:, 1:] & observed[:, :-1]
    if spillover:
        usable[:, 1:] &= ~np.isnan(ne[:, :-1]) | ~has_ne[:, None]
    x_lags = []
    for cov in covariates:
        usable[:, 1:] &= ~np.isnan(cov[:, :-1])
        x_lags.append(cov[:, :-1])
    usable[:, :first_period] = False
    r_idx, t_idx = np.nonzero(usable)
    ne_lag = ne[r_idx, t_idx - 1]
    ne_lag = np.where(has_ne[r_idx], ne_lag, 0.0)
    x = np.stack([c[r_idx, t_idx - 1] for c in x_lags], axis=1) if x_lags else np.zeros((r_idx.size, 0))
    fitted = np.zeros(n_regions, bool)
    fitted[np.unique(r_idx)] = True
    return CountDesign(
        y=values[r_idx, t_idx],
        y_lag=(values if own_lag_months == 1 else rolling_median(values, own_lag_months))[r_idx, t_idx - 1],
        level_lag=level[r_idx, t_idx - 1],
        ne_lag=ne_lag,
        x_lag=x,
        region_idx=r_idx.astype(np.int64),
        period_idx=t_idx.astype(np.int64),
        has_ne=has_ne,
        fitted=fitted,
        vol_lag=log_sd[r_idx, t_idx - 1],
    )


def standardise_covariate(values: np.ndarray) -> tuple[np.ndarray, dict[str, float | bool]]:
    """Return a covariate array standardised (log1p first unless it lies in [0, 1]) and its transform."""
    obs = values[~np.isnan(values)]
    use_log = bool(obs.size and (obs.min() < 0 or obs.max() > 1)) and bool(obs.size and obs.min() >= 0)
    t = np.log1p(values) if use_log else values
    tobs = t[~np.isnan(t)]
    centre = float(tobs.mean()) if tobs.size else 0.0
    spread = float(tobs.std()) if tobs.size > 1 and tobs.std() > 0 else 1.0
    return (t - centre) / spread, {"log1p": use_log, "centre": centre, "spread": spread}

"""Own and spatial lags of region x period arrays, NaN-aware (a gap is never read as zero).

Arrays are shaped (..., n_regions, n_periods); W is (n_regions, n_regions) with W[q, r] the
weight of source q into target r (see `indicators.regions.weights_matrix`).
"""

from __future__ import annotations

import numpy as np

from indicators.errors import InputError


def lag_values(values: np.ndarray, k: int = 1) -> np.ndarray:
    """Return `values` shifted k months forward along the last (period) axis, first k months NaN.

    out[..., t] = values[..., t - k]; k = 0 returns a float copy.

    Raises
    ------
    InputError
        If k is negative.
    """
    if k < 0:
        raise InputError(f"lag k must be >= 0, got {k}")
    values = np.asarray(values, dtype=float)
    out = np.full_like(values, np.nan)
    if k == 0:
        out[...] = values
    elif k < values.shape[-1]:
        out[..., k:] = values[..., :-k]
    return out


def _check_weights(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return W as a float array after checking it matches the region axis of `values`."""
    weights = np.asarray(weights, dtype=float)
    n_regions = values.shape[-2]
    if weights.shape != (n_regions, n_regions):
        raise InputError(f"W must be ({n_regions}, {n_regions}) for {n_regions} regions, got {weights.shape}")
    return weights


def _lagged_observed(values: np.ndarray, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (W checked against the region axis, `values` lagged by k with NaN set to 0, per-target scale = full
    weight / observed weight; NaN if none): what both neighbour terms weigh."""
    lagged = lag_values(values, k)
    weights = _check_weights(lagged, weights)
    observed = ~np.isnan(lagged)
    filled = np.where(observed, lagged, 0.0)
    full = weights.sum(axis=0)  # each target's total incoming weight
    seen = np.einsum("qr,...qt->...rt", weights, observed.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(seen > 0, full[:, None] / np.where(seen > 0, seen, 1.0), np.nan)
    return weights, filled, scale


def spatial_lag(values: np.ndarray, weights: np.ndarray, k: int = 1) -> np.ndarray:
    """Return the neighbour term sum_q W[q, r] y[q, t-k] for every target r and month t, shape like `values`.

    Only neighbours observed at t-k enter, their weights rescaled to the target's full incoming
    weight: with "target"-normalised W this is the weighted mean over the observed neighbours
    (DESIGN section 3); with "source"-normalised W it equals hhh4's sum when all neighbours are
    observed and fills missing ones with the mean of the observed. NaN when no neighbour is
    observed at t-k, for the first k months, and for regions without neighbours: models treat a
    NaN neighbour term as contributing 0 (the region gets no spillover that month). Raises InputError if W does
    not match the region axis or k is negative.
    """
    weights, filled, scale = _lagged_observed(values, weights, k)
    return np.einsum("qr,...qt->...rt", weights, filled) * scale


def spatial_lag_by_source(values: np.ndarray, weights: np.ndarray, k: int = 1) -> np.ndarray:
    """Return each source's contribution to the neighbour term, shape (..., n_target, n_source, n_periods).

    Summing over the source axis gives `spatial_lag(values, W, k)`. Unobserved sources
    contribute 0; targets with no observed neighbour (or none at all) are NaN throughout. Raises InputError if W
    does not match the region axis or k is negative.
    """
    weights, filled, scale = _lagged_observed(values, weights, k)
    # contribution[..., r, q, t] = W[q, r] * y[q, t-k] * scale[r, t]
    return np.einsum("qr,...qt->...rqt", weights, filled) * scale[..., :, None, :]

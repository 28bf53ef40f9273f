"""Tail-safe draws for count paths: a ceiling derived from the data and a stacking with the conflictology.

Both act where a simulated count is drawn from its uniform (see models.count.simulate), so common random
numbers still make a cut run differ from the uncut run by the cut channel alone:

- **ceiling**: the NB draw is truncated at ``ceiling_factor x max(largest month the region ever
  had, CEILING_FLOOR)`` -- the exact truncated NB by inverse CDF (the uniform is scaled by
  ``F(ceiling)``). It removes the simulated months in the millions that a log-scale random walk
  with a heavy NB can reach (a region that never exceeded 300 a month cannot be forecast at 10^6),
  and leaves a new war room to grow (up to the factor times the region's own record, at least
  ``ceiling_factor x CEILING_FLOOR``).
- **stacking**: with probability ``pool_weight`` a month's value is drawn from the region's last 12
  observed months at the forecast origin (ViEWS' "conflictology"), otherwise from the model. The
  drawn month feeds the next step's lags like any simulated month, so the pool also pulls a path
  that ran away back towards what the region has recently seen.
"""

from __future__ import annotations

import numpy as np
from scipy import special

CEILING_FLOOR = 100.0
"""Smallest record (deaths a month) the ceiling is scaled from: a region that never had more still gets
``ceiling_factor x CEILING_FLOOR`` of room."""


def ceilings(history_max: np.ndarray, factor: float | None) -> np.ndarray | None:
    """Return each region's ceiling ``factor x max(history_max, CEILING_FLOOR)``, or None when ``factor`` is None."""
    if factor is None:
        return None
    record = np.nan_to_num(np.asarray(history_max, dtype=float), nan=0.0)
    return float(factor) * np.maximum(record, CEILING_FLOOR)


def recent_pool(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (each region's observed months of ``window`` sorted ascending with NaN last, their count).

    ``window`` is (regions, months) as in the fit's simulation state.
    """
    values = np.asarray(window, dtype=float)
    return np.sort(values, axis=1), np.isfinite(values).sum(axis=1)


def tail_safe_draw(u: np.ndarray, mu: np.ndarray, alpha: np.ndarray, inverse_cdf, *, ceiling: np.ndarray | None = None,
                   pool: tuple[np.ndarray, np.ndarray] | None = None, pool_weight: float = 0.0) -> np.ndarray:
    """Return one month's counts (paths, regions) from uniforms ``u`` (paths, regions).

    ``inverse_cdf(v, mu, alpha)`` is the NB inverse CDF; ``ceiling`` (regions,) truncates it; ``pool``
    (from ``recent_pool``) with ``pool_weight`` in [0, 1) mixes in the region's recent months (regions
    with an empty pool always draw from the model). Each value is a monotone function of its uniform
    within its component, so two runs with the same uniforms draw the same component.
    """
    u = np.asarray(u, dtype=float)
    mu, alpha = np.broadcast_arrays(np.maximum(np.asarray(mu, float), 0.0), np.asarray(alpha, float))
    v = u
    from_pool = np.zeros(u.shape, bool)
    sorted_pool, sizes = pool if pool is not None else (None, None)
    if pool is not None and pool_weight > 0:
        from_pool = (u < pool_weight) & (sizes > 0)[None, :]
        v = np.where(sizes[None, :] > 0, (u - pool_weight) / (1.0 - pool_weight), u)
    v = np.clip(v, 1e-12, 1 - 1e-12)
    if ceiling is not None:
        cap = np.broadcast_to(ceiling, u.shape)
        p = alpha / (alpha + mu)
        v = np.clip(v * special.betainc(alpha, cap + 1.0, p), 1e-300, 1 - 1e-12)
    out = inverse_cdf(v, mu, alpha)
    if ceiling is not None:
        out = np.minimum(out, np.floor(cap))
    if from_pool.any():
        n = np.broadcast_to(sizes[None, :], u.shape)
        pick = np.minimum((u / pool_weight * n).astype(int), np.maximum(n - 1, 0))
        regions = np.broadcast_to(np.arange(u.shape[1])[None, :], u.shape)
        out = np.where(from_pool, sorted_pool[regions, pick], out)
    return out

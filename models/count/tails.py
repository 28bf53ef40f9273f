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


def below_threshold(u: np.ndarray, mu: np.ndarray, alpha: np.ndarray, threshold: float, *,
                    ceiling: float | None = None, pool: tuple[np.ndarray, np.ndarray] | None = None,
                    pool_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Return (uniforms remapped so that ``tail_safe_draw`` stays below ``threshold``, P(draw < threshold)).

    For one region's column: ``u``, ``mu``, ``alpha`` are (paths,), ``ceiling`` a scalar, ``pool`` that
    region's (sorted months, count). The set of uniforms whose draw stays below the threshold is
    ``[0, a)`` (pool months below it) joined with ``[w, w + (1 - w) c)`` (the model's NB below it, ``c``
    its truncated CDF at ``threshold - 1``); its measure is the probability, and ``u x probability`` mapped
    onto it is a draw from the month's law given no crossing (monotone in ``u``, so common random numbers
    survive). Used to Rao-Blackwellise "reaches the threshold within H" (models.questions.uncertainty).
    """
    k = float(np.ceil(threshold))
    mu = np.maximum(np.asarray(mu, dtype=float), 0.0)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), mu.shape)
    if k <= 0:
        return np.zeros_like(u), np.zeros_like(u)
    p = alpha / (alpha + mu)
    model_below = special.betainc(alpha, k, p)  # NB CDF at k - 1
    if ceiling is not None:
        model_below = 1.0 if k > np.floor(ceiling) else np.minimum(
            model_below / special.betainc(alpha, ceiling + 1.0, p), 1.0)
    weight, pool_below = 0.0, 0.0
    if pool is not None and pool_weight > 0 and pool[1] > 0:
        months, n = pool
        weight = pool_weight
        pool_below = pool_weight * float(np.sum(months[:n] < k)) / n
    below = pool_below + (1.0 - weight) * model_below
    v = u * below
    remapped = np.where(v < pool_below, v, weight + (v - pool_below))
    return remapped, np.broadcast_to(below, u.shape).astype(float)

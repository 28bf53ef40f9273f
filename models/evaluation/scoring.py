"""Proper scores of sample forecasts of counts against what was observed.

Every function takes ``samples`` with the draws on the FIRST axis, shape ``(m, *cells)``,
and ``observed`` of shape ``cells``, and returns one score per cell (shape ``cells``).
A cell whose observation is NaN, or whose samples hold a NaN, is not scored: its score is NaN.

The scoring rules come from ``scoringrules`` (sample CRPS, Dawid-Sebastiani, Brier); what the
library does not cover for discrete outcomes is written here and documented:

- ``log_score``: the library's ``logs_ensemble`` is a continuous Gaussian KDE, which has no
  meaning for a point mass and puts density on negative counts. Here the predictive pmf of a
  count ``y`` is a discretised Gaussian kernel in log1p space (each sample ``x`` spreads its
  mass over the integers as ``round(expm1(log1p(x) + bw * Z))``, mass below 0.5 going to 0;
  ``bw`` = Silverman's rule on ``log1p(samples)``, at least ``MIN_LOG_BANDWIDTH``), mixed with
  weight ``REFERENCE_WEIGHT`` with the heavy-tailed reference pmf ``1 / ((y + 1)(y + 2))`` so
  that no count has probability zero.
- ``pit_coverage``: coverage of the central interval by the randomised PIT.
- ``dawid_sebastiani``: the library's score, with the predictive variance floored at 1/12
  (the variance of a count's unit-width bin) so that point-mass forecasts get a finite score.
- ``ignorance``: the ViEWS 2023/24 prediction challenge's binned ignorance score (log2, one
  pseudo-count per bin); ``interval_score_90``: its 90% interval score (MIS when averaged),
  the central sample interval scored by ``scoringrules.interval_score``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scoringrules as sr
from scipy.special import ndtr

BACKEND = "numpy"
MIN_VARIANCE = 1.0 / 12.0
MIN_LOG_BANDWIDTH = 0.05
REFERENCE_WEIGHT = 1e-3
VIEWS_BIN_EDGES = (0.0, 0.5, 2.5, 5.5, 10.5, 25.5, 50.5, 100.5, 250.5, 500.5, 1000.5)
"""Lower edges of the challenge's ignorance bins: {0}, 1-2, 3-5, ..., 501-1000, and >= 1001 (11 bins)."""


def _prepare(samples, observed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (samples, observed, valid mask) as float arrays with checked shapes."""
    x = np.asarray(samples, dtype=float)
    y = np.asarray(observed, dtype=float)
    if x.ndim < 1 or x.shape[1:] != y.shape:
        raise ValueError(
            f"samples must have shape (draws, *observed.shape); got {x.shape} for observed "
            f"{y.shape}. Put the draws on the first axis."
        )
    valid = np.isfinite(y) & np.all(np.isfinite(x), axis=0) if x.shape[0] else np.zeros(y.shape, bool)
    return x, y, valid


def _scatter(valid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return an array shaped like ``valid`` holding ``values`` at valid cells and NaN elsewhere."""
    out = np.full(valid.shape, np.nan)
    out[valid] = values
    return out


def _valid_columns(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (samples of the valid cells as (cells, m), observations of the valid cells)."""
    return x[:, valid].T, y[valid]


def crps(samples, observed) -> np.ndarray:
    """Return the sample CRPS per cell (``scoringrules.crps_ensemble``, exact for the empirical CDF)."""
    x, y, valid = _prepare(samples, observed)
    if not valid.any():
        return _scatter(valid, np.empty(0))
    fx, fy = _valid_columns(x, y, valid)
    return _scatter(valid, sr.crps_ensemble(fy, fx, estimator="qd", backend=BACKEND))


def crps_log1p(samples, observed) -> np.ndarray:
    """Return the sample CRPS of log1p(samples) against log1p(observed), per cell."""
    x, y, valid = _prepare(samples, observed)
    with np.errstate(invalid="ignore"):
        return crps(np.log1p(x), np.log1p(y))


def dawid_sebastiani(samples, observed, *, min_variance: float = MIN_VARIANCE) -> np.ndarray:
    """Return the Dawid-Sebastiani score ``(y - mean)^2 / var + log(var)`` per cell.

    Cells whose unbiased sample variance is at least ``min_variance`` are scored by
    ``scoringrules.dssuv_ensemble``; the others (point masses, single samples) use the
    same formula with the variance set to ``min_variance``.
    """
    x, y, valid = _prepare(samples, observed)
    fx, fy = _valid_columns(x, y, valid)
    m = fx.shape[1]
    var = fx.var(axis=1, ddof=1) if m > 1 else np.zeros(fx.shape[0])
    spread = var >= min_variance
    out = np.empty(fy.shape)
    if spread.any():
        out[spread] = sr.dssuv_ensemble(fy[spread], fx[spread], backend=BACKEND)
    narrow = ~spread
    if narrow.any():
        mean = fx[narrow].mean(axis=1)
        out[narrow] = (fy[narrow] - mean) ** 2 / min_variance + np.log(min_variance)
    return _scatter(valid, out)


def _log_bandwidth(z: np.ndarray) -> np.ndarray:
    """Return Silverman's bandwidth per row of ``z`` (cells, m), floored at MIN_LOG_BANDWIDTH."""
    m = z.shape[1]
    if m < 2:
        return np.full(z.shape[0], MIN_LOG_BANDWIDTH)
    sd = z.std(axis=1, ddof=1)
    q75, q25 = np.percentile(z, [75, 25], axis=1)
    spread = np.minimum(sd, (q75 - q25) / 1.34)
    spread = np.where(spread > 0, spread, sd)
    return np.maximum(0.9 * spread * m ** (-0.2), MIN_LOG_BANDWIDTH)


def count_pmf(samples, observed) -> np.ndarray:
    """Return the smoothed predictive probability of each observed count (see module docstring).

    ``observed`` is rounded to the nearest integer; negative observations get NaN.
    """
    x, y, valid = _prepare(samples, observed)
    valid &= np.where(np.isfinite(y), y, -1) >= 0
    fx, fy = _valid_columns(x, y, valid)
    fy = np.rint(fy)
    z = np.log1p(np.maximum(fx, 0.0))
    bw = _log_bandwidth(z)[:, None]
    upper = np.log(fy + 1.5)[:, None]
    with np.errstate(divide="ignore"):
        lower = np.where(fy >= 1, np.log(fy + 0.5), -np.inf)[:, None]
    kernel = (ndtr((upper - z) / bw) - ndtr((lower - z) / bw)).mean(axis=1)
    reference = 1.0 / ((fy + 1.0) * (fy + 2.0))
    return _scatter(valid, (1.0 - REFERENCE_WEIGHT) * kernel + REFERENCE_WEIGHT * reference)


def log_score(samples, observed) -> np.ndarray:
    """Return the log score ``-log p(y)`` per cell under the smoothed pmf of ``count_pmf``."""
    return -np.log(count_pmf(samples, observed))


def pit_coverage(samples, observed, level: float) -> np.ndarray:
    """Return the expected coverage of the central ``level`` interval by the randomised PIT.

    With F the empirical CDF of the samples, the randomised PIT of ``y`` is uniform on
    [F(y-), F(y)] (F(y-) = P(X < y)); the coverage is the share of that interval inside
    [(1 - level) / 2, (1 + level) / 2]. When the samples put no mass on ``y`` the PIT is
    the point F(y): coverage 1 if it lies inside, else 0.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1; got {level}.")
    x, y, valid = _prepare(samples, observed)
    fx, fy = _valid_columns(x, y, valid)
    below = (fx < fy[:, None]).mean(axis=1)
    at_or_below = (fx <= fy[:, None]).mean(axis=1)
    lo, hi = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    width = at_or_below - below
    overlap = np.clip(np.minimum(at_or_below, hi) - np.maximum(below, lo), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = overlap / width
    point = ((at_or_below >= lo) & (at_or_below <= hi)).astype(float)
    return _scatter(valid, np.where(width > 0, spread, point))


def interval_hit(samples, observed, level: float) -> np.ndarray:
    """Return 1.0 where ``observed`` lies in the closed central ``level`` sample interval, else 0.0.

    The bounds are sample quantiles by the inverted CDF (always sample values), so a point
    mass at 0 "covers" every observed 0: the plain hit rate beside ``pit_coverage``.
    """
    x, y, valid = _prepare(samples, observed)
    fx, fy = _valid_columns(x, y, valid)
    if not len(fy):
        return _scatter(valid, np.empty(0))
    lo, hi = np.quantile(fx, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=1, method="inverted_cdf")
    return _scatter(valid, ((fy >= lo) & (fy <= hi)).astype(float))


def ignorance(samples, observed, edges: Sequence[float] = VIEWS_BIN_EDGES) -> np.ndarray:
    """Return the binned ignorance score ``-log2 p(bin of y)`` per cell, as the ViEWS challenge scores it.

    Values fall in the bin of the largest lower edge not above them (the last bin is open);
    each bin gets one pseudo-count, so ``p = (samples in the bin + 1) / (m + number of bins)``.
    """
    x, y, valid = _prepare(samples, observed)
    fx, fy = _valid_columns(x, y, valid)
    bounds = np.asarray(edges, dtype=float)
    sample_bins = np.clip(np.searchsorted(bounds, fx, side="right") - 1, 0, None)
    observed_bins = np.clip(np.searchsorted(bounds, fy, side="right") - 1, 0, None)
    hits = (sample_bins == observed_bins[:, None]).sum(axis=1)
    prob = (hits + 1.0) / (fx.shape[1] + bounds.size)
    return _scatter(valid, -np.log2(prob))


def interval_score_90(samples, observed) -> np.ndarray:
    """Return the interval score of the central 90% sample interval per cell (width plus 20 x any miss).

    The bounds are the samples' 5% and 95% quantiles (linear interpolation, numpy's default).
    """
    x, y, valid = _prepare(samples, observed)
    fx, fy = _valid_columns(x, y, valid)
    if not len(fy):
        return _scatter(valid, np.empty(0))
    lower, upper = np.quantile(fx, [0.05, 0.95], axis=1)
    return _scatter(valid, sr.interval_score(fy, lower, upper, 0.1, backend=BACKEND))


def brier_exceed(samples, observed, k: float) -> np.ndarray:
    """Return the Brier score of the event ``value >= k`` per cell (``scoringrules.brier_score``)."""
    x, y, valid = _prepare(samples, observed)
    fx, fy = _valid_columns(x, y, valid)
    if not len(fy):
        return _scatter(valid, np.empty(0))
    prob = (fx >= k).mean(axis=1)
    return _scatter(valid, sr.brier_score((fy >= k).astype(float), prob, backend=BACKEND))


def brier_within(paths, observed, k: float) -> np.ndarray:
    """Return the Brier score of "some month 1..h has value >= k" for every h, shape (H, *cells).

    ``paths`` has shape (m, H, *cells) (joint paths), ``observed`` (H, *cells). The event
    for h is scored only when months 1..h are all observed and every path is finite there.
    """
    x = np.asarray(paths, dtype=float)
    y = np.asarray(observed, dtype=float)
    if x.ndim < 2 or x.shape[1:] != y.shape:
        raise ValueError(f"paths must have shape (draws, H, ...) matching observed (H, ...); got {x.shape}, {y.shape}.")
    with np.errstate(invalid="ignore"):
        event_paths = np.maximum.accumulate(np.nan_to_num(x, nan=-np.inf) >= k, axis=1)
        event_obs = np.maximum.accumulate(np.nan_to_num(y, nan=-np.inf) >= k, axis=0)
    seen = np.logical_and.accumulate(np.isfinite(y), axis=0)
    finite = np.logical_and.accumulate(np.all(np.isfinite(x), axis=0), axis=0)
    valid = seen & finite
    prob = event_paths.mean(axis=0)
    out = np.full(y.shape, np.nan)
    if valid.any():
        out[valid] = sr.brier_score(event_obs[valid].astype(float), prob[valid], backend=BACKEND)
    return out


def _sample_max(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the largest sample per cell where the cell was observed (NaN elsewhere, or without samples)."""
    if not x.shape[0]:
        return np.full(y.shape, np.nan)
    return np.where(np.isfinite(y), np.nanmax(x, axis=0, initial=-np.inf), np.nan)


def score_paths(paths, observed, *, k: Sequence[int] = (1, 25)) -> dict[str, np.ndarray]:
    """Return every per-cell score of joint forecast paths against the observed months.

    ``paths`` (m, H, regions), ``observed`` (H, regions). Keys, each an array (H, regions)
    with NaN where not scored: crps, crps_log1p, dss, logs (step 1 only, NaN after),
    coverage50, coverage90, hit90_closed, ign (challenge ignorance), mis (90% interval score),
    sample_max (largest simulated value), brier_{k} (value >= k in the month) and
    brier_within_{k} (some month 1..h >= k) for each k.
    """
    x = np.asarray(paths, dtype=float)
    y = np.asarray(observed, dtype=float)
    scores = {
        "crps": crps(x, y),
        "crps_log1p": crps_log1p(x, y),
        "dss": dawid_sebastiani(x, y),
        "logs": np.full(y.shape, np.nan),
        "coverage50": pit_coverage(x, y, 0.5),
        "coverage90": pit_coverage(x, y, 0.9),
        "hit90_closed": interval_hit(x, y, 0.9),
        "ign": ignorance(x, y),
        "mis": interval_score_90(x, y),
        "sample_max": _sample_max(x, y),
    }
    if y.shape[0]:
        scores["logs"][0] = log_score(x[:, 0], y[0])
    for threshold in k:
        scores[f"brier_{threshold}"] = brier_exceed(x, y, threshold)
        scores[f"brier_within_{threshold}"] = brier_within(x, y, threshold)
    return scores

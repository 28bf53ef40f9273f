"""Where to centre the regions' NB dispersion: a moment estimate from the data before sampling.

A hierarchical parameter samples best centred where the data pin each region's value down well
relative to the spread between regions, and non-centred where they do not (a centred parameter
with a population scale near its regions' standard errors funnels). The count of positive months
cannot tell the two apart for the NB dispersion: the synthetic panels (dispersion alike across
regions, spread ~0.2 on the log scale) and the UCDP panel (spread ~1.2) both have series positive
in nearly every month. So the spread is estimated from the data: a method-of-moments log
dispersion per region, its standard error from the NB information, and the between-region spread
net of those errors (models/NOTES_count_model.md, session 4).
"""

from __future__ import annotations

import numpy as np

CENTRE_SE_FRACTION = 1 / 3
"""A region's dispersion is centred when its standard error is below this fraction of the spread."""
MIN_CELLS = 12
MIN_INFORMED_REGIONS = 3


def log_dispersion_moments(y: np.ndarray, mu: np.ndarray) -> tuple[float, float]:
    """Return (log alpha estimate, its standard error) for counts `y` with rough means `mu`, from
    Var(y) = mu + mu^2 / alpha; the error is 1 / sqrt(information), about 1/2 per cell where mu is
    large against alpha and ~0 where the counts are Poisson-like. (nan, inf) without excess variance."""
    excess = float(np.mean((y - mu) ** 2) - np.mean(mu))
    if excess <= 0 or not np.any(mu > 0):
        return float("nan"), float("inf")
    alpha = float(np.clip(np.mean(mu**2) / excess, 1e-3, 1e3))
    information = 0.5 * float(np.sum((mu / (mu + alpha)) ** 2))
    return float(np.log(alpha)), (1.0 / np.sqrt(information)) if information > 0 else float("inf")


def dispersion_centring(y: np.ndarray, y_lag: np.ndarray, level_lag: np.ndarray, region_idx: np.ndarray,
                        n_regions: int) -> np.ndarray:
    """Return a 0/1 vector over regions: 1 where the log dispersion should be drawn centred.

    Rough means blend the last month and the 12-month level (geometric mean of log1p). The spread
    between regions is sqrt(var(estimates) - mean(se^2)) over regions with se < 1; a region is
    centred when its se < CENTRE_SE_FRACTION x spread. Fewer than MIN_INFORMED_REGIONS informed
    regions, or no spread left after the errors: nothing is centred.
    """
    y = np.asarray(y, dtype=float)
    mu = np.expm1(0.5 * np.log1p(np.asarray(y_lag, dtype=float)) + 0.5 * np.log1p(np.asarray(level_lag, dtype=float)))
    estimates, errors = np.full(n_regions, np.nan), np.full(n_regions, np.inf)
    for region in range(n_regions):
        cells = region_idx == region
        if cells.sum() >= MIN_CELLS:
            estimates[region], errors[region] = log_dispersion_moments(y[cells], mu[cells])
    informed = np.isfinite(estimates) & (errors < 1.0)
    if informed.sum() < MIN_INFORMED_REGIONS:
        return np.zeros(n_regions)
    spread_sq = float(np.var(estimates[informed], ddof=1) - np.mean(errors[informed] ** 2))
    if spread_sq <= 0:
        return np.zeros(n_regions)
    return (informed & (errors < CENTRE_SE_FRACTION * np.sqrt(spread_sq))).astype(float)

"""Synthetic share panels: AR(1) on logit(share) with a neighbour term, shares below/above a detection floor
reported as exact 0 / 1, with the truth that made them."""

from __future__ import annotations

import numpy as np

from indicators.panel import Panel
from indicators.periods import parse_period
from indicators.regions import check_normalise, weights_matrix
from indicators.synthetic.graphs import GraphSpec, hide_cells, isolated, panel_regions
from indicators.synthetic.truths import ShareTruth


def simulate_share_panel(
    n_regions: int = 20,
    n_periods: int = 120,
    *,
    seed: int = 0,
    spillover: bool = True,
    indicator: str = "militia_share",
    graph: GraphSpec = "grid",
    missing_fraction: float = 0.0,
    normalise: str = "target",
    start: str = "2010-01",
    burn_in: int = 50,
    exact_below: float = 0.01,
) -> tuple[Panel, ShareTruth]:
    """Return (panel, truth): shares from a hierarchical AR(1) on the logit scale with a neighbour term.

    z[r,t] = c_r + rho_r z[r,t-1] + psi_r sum_q W[q,r] z[q,t-1] + sigma_r eps, with the
    stationary mean of z equal to `level` (level_r ~ N(-1, 1.8), the lowest pushed to <= -5 and the
    highest to >= 5 so that exact 0s and 1s occur; rho_r ~ U(0.5, 0.85),
    psi_r ~ U(0, 0.1) or 0 without spillover, sigma_r ~ U(0.2, 0.5)). The share is expit(z),
    reported as exactly 0 below `exact_below` and exactly 1 above 1 - `exact_below`.

    Raises
    ------
    InputError
        Bad sizes or fractions.
    """
    regions, ids = panel_regions(n_regions, n_periods, graph)
    n = len(ids)
    rng = np.random.default_rng(seed)
    weights = weights_matrix(regions, ids, check_normalise(normalise))
    level = rng.normal(-1.0, 1.8, n)
    if n >= 2:  # one region near 0 and one near 1, so exact 0s and 1s always occur
        level[np.argmin(level)] = min(level.min(), -5.0)
        level[np.argmax(level)] = max(level.max(), 5.0)
    rho = rng.uniform(0.5, 0.85, n)
    psi = rng.uniform(0.0, 0.1, n) if spillover else np.zeros(n)
    psi[isolated(weights)] = 0.0
    sigma = rng.uniform(0.2, 0.5, n)
    transition = np.diag(rho) + psi[:, None] * weights.T
    intercept = (np.eye(n) - transition) @ level
    z = level.copy()
    latent = np.empty((n, burn_in + n_periods))
    for t in range(latent.shape[1]):
        z = intercept + transition @ z + sigma * rng.standard_normal(n)
        latent[:, t] = z
    latent = latent[:, burn_in:]
    share = 1.0 / (1.0 + np.exp(-latent))
    values = np.where(share < exact_below, 0.0, np.where(share > 1.0 - exact_below, 1.0, share))
    observed = np.where(hide_cells(rng, values.shape, missing_fraction), np.nan, values)
    panel = Panel.from_arrays(regions, parse_period(start), {indicator: observed}, normalise)
    population = {"level_mu": -1.0, "level_sigma": 1.8, "rho": (0.5, 0.85), "psi": (0.0, 0.1), "sigma": (0.2, 0.5)}
    truth = ShareTruth(ids, level, rho, psi, sigma, normalise, seed, indicator, exact_below, weights, latent, values,
                       population)
    return panel, truth

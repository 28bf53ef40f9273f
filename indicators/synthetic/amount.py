"""Synthetic amount panels: a hurdle, Bernoulli(any seizure) x LogNormal(amount) by region, with the truth that
made them."""

from __future__ import annotations

import numpy as np

from indicators.panel import Panel
from indicators.periods import parse_period
from indicators.synthetic.graphs import GraphSpec, hide_cells, panel_regions
from indicators.synthetic.truths import AmountTruth


def simulate_amount_panel(
    n_regions: int = 20,
    n_periods: int = 120,
    *,
    seed: int = 0,
    indicator: str = "seizures_kg",
    graph: GraphSpec = "grid",
    missing_fraction: float = 0.0,
    start: str = "2010-01",
) -> tuple[Panel, AmountTruth]:
    """Return (panel, truth): hurdle amounts, 0 with probability 1 - p_any_r, else LogNormal.

    logit p_any_r ~ N(0.5, 1.2); log_mu_r ~ N(2, 0.8); log_sigma_r ~ U(0.4, 1.0); months independent.

    Raises
    ------
    InputError
        Bad sizes or fractions.
    """
    regions, ids = panel_regions(n_regions, n_periods, graph)
    n = len(ids)
    rng = np.random.default_rng(seed)
    p_any = 1.0 / (1.0 + np.exp(-rng.normal(0.5, 1.2, n)))
    log_mu = rng.normal(2.0, 0.8, n)
    log_sigma = rng.uniform(0.4, 1.0, n)
    any_seizure = rng.random((n, n_periods)) < p_any[:, None]
    amount = np.exp(log_mu[:, None] + log_sigma[:, None] * rng.standard_normal((n, n_periods)))
    values = np.where(any_seizure, amount, 0.0)
    observed = np.where(hide_cells(rng, values.shape, missing_fraction), np.nan, values)
    panel = Panel.from_arrays(regions, parse_period(start), {indicator: observed})
    population = {"logit_p_mu": 0.5, "logit_p_sigma": 1.2, "log_mu_mu": 2.0, "log_mu_sigma": 0.8,
                  "log_sigma": (0.4, 1.0)}
    return panel, AmountTruth(ids, p_any, log_mu, log_sigma, seed, indicator, values, population)

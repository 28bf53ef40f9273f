"""Synthetic panels with known truth, for recovery tests, demos and benchmarks.

- `simulate_count_panel`: the hhh4 level form of DESIGN section 3 (endemic + own lag + neighbour lag,
  negative binomial), stationary by construction (lambda_r + phi_r <= 0.85) and burnt in.
- `simulate_share_panel`: AR(1) on logit(share) with a neighbour term; shares below/above a
  detection floor are reported as exact 0 / 1.
- `simulate_amount_panel`: hurdle, Bernoulli(any seizure) x LogNormal(amount), by region.

Every generator uses `numpy.random.Generator(seed)` only: the same arguments give the same panel.
"""

from indicators.synthetic.amount import simulate_amount_panel
from indicators.synthetic.count import COUNT_POPULATION, MAX_GROWTH, simulate_count_panel, standardised_lag
from indicators.synthetic.graphs import GraphSpec, make_graph
from indicators.synthetic.share import simulate_share_panel
from indicators.synthetic.truths import AmountTruth, CountTruth, ShareTruth

__all__ = [
    "COUNT_POPULATION",
    "MAX_GROWTH",
    "AmountTruth",
    "CountTruth",
    "GraphSpec",
    "ShareTruth",
    "make_graph",
    "simulate_amount_panel",
    "simulate_count_panel",
    "simulate_share_panel",
    "standardised_lag",
]

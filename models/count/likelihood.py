"""The count model's negative-binomial log-likelihood, computed where it costs something only on positive cells.

NB(y | mu, alpha) log-density = gammaln(y + alpha) - gammaln(alpha) - gammaln(y + 1)
                                + alpha (log alpha - log(alpha + mu)) + y (log mu - log(alpha + mu)).
For y = 0 the three gammaln terms cancel, and most cells of a conflict panel are 0 (86% of the world panel's
last 120 months, 191 countries): the gammaln terms (and their digamma gradients, the costly part) are evaluated
on the positive cells only. Same density as `pm.NegativeBinomial` to rounding (1e-7 on the world panel's
total), 2.6x cheaper per log-density and gradient there (models/NOTES_count_model.md, session 10).
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt


def negative_binomial_loglik(name: str, y, log_mu, log_alpha) -> pt.TensorVariable:
    """Return the model's Potential `name`: the summed NB log-density of the counts `y` (ints) given log means
    `log_mu` and log sizes `log_alpha` (one per cell, already clipped to finite ranges)."""
    alpha = pt.exp(log_alpha)
    log_alpha_plus_mu = pt.logaddexp(log_alpha, log_mu)
    y_float = pt.cast(y, "float64")
    every_cell = alpha * (log_alpha - log_alpha_plus_mu) + y_float * (log_mu - log_alpha_plus_mu)
    positive = pt.nonzero(pt.gt(y, 0))[0]
    alpha_pos, y_pos = alpha[positive], y_float[positive]
    positive_cells = pt.gammaln(y_pos + alpha_pos) - pt.gammaln(alpha_pos) - pt.gammaln(y_pos + 1.0)
    return pm.Potential(name, every_cell.sum() + positive_cells.sum())

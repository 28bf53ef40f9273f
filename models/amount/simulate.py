"""Joint forward simulation of hurdle amount paths: every region stepped together, per posterior draw.

One uniform per (path, step, region) gives the value through the hurdle mixture's inverse CDF:
``u < 1 - p`` is a month without seizures (0); otherwise the amount is
``exp(m + s * Phi^-1((u - (1 - p)) / p))``. A run with the q->r channel cut (w[q, r] = 0) uses the
same uniforms as the uncut run, so the two differ by that channel alone (see models.count.simulate).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from models.fitting.design import channel_weights
from models.questions.covariates import covariate_term

MAX_LOG_AMOUNT = 30.0  # exp(30) ~ 1e13: a cap that keeps a runaway draw finite
UNIFORM_EDGE = 1e-12


def hurdle_inverse_cdf(u: np.ndarray, p_any: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Return hurdle log-normal values at probabilities `u`: 0 with probability 1 - p_any,
    else LogNormal(loc, scale)."""
    zero = 1.0 - p_any
    positive = u >= zero
    q = np.clip(np.divide(u - zero, p_any, out=np.full(np.broadcast(u, p_any).shape, 0.5), where=p_any > 0),
                UNIFORM_EDGE, 1.0 - UNIFORM_EDGE)
    log_amount = np.minimum(loc + scale * special.ndtri(q), MAX_LOG_AMOUNT)
    return np.where(positive, np.exp(log_amount), 0.0)


def simulate_amount(spec, params: dict[str, np.ndarray], state: dict[str, np.ndarray], *, idx: np.ndarray,
                    uniforms: np.ndarray, cut: tuple[int, int] | None = None,
                    scenario: dict[int, np.ndarray] | None = None, covariates=None) -> np.ndarray:
    """Return simulated amount paths (draws, horizon, regions), non-negative; regions without data are NaN.

    `params` holds posterior samples (sample, ...) as named in models.amount.model; `state` the fit's
    simulation state; `cut` = (source index, target index) sets w[source, target] = 0; `scenario`
    maps a region index to values per step (NaN keeps the simulated value) or to a 0-d scale factor.
    Simulated and scenario values both feed the next step's lags. `covariates`
    (models.questions.covariates.CovariatePaths) gives the covariates read at each step (None: held at the last value).
    """
    draws, horizon, n_regions = uniforms.shape
    alive = state["alive"].astype(bool)
    has_ne = state["has_ne"].astype(bool)
    w = channel_weights(state["weights"], alive, cut)
    p = {k: v[idx] for k, v in params.items()}
    zeros = np.zeros((draws, n_regions))
    own_any, own_amount = p.get("own_any", zeros), p.get("own_amount", zeros)
    ne_any, ne_amount = p.get("ne_any", zeros), p.get("ne_amount", zeros)
    y_prev = np.broadcast_to(np.nan_to_num(state["window"][:, -1], nan=0.0), (draws, n_regions))
    paths = np.empty((draws, horizon, n_regions))
    for h in range(horizon):
        x_any = covariate_term(p.get("beta_any"), state, covariates, h)
        x_amount = covariate_term(p.get("beta_amount"), state, covariates, h)
        log_prev = np.log1p(y_prev)
        z_ne = np.where(has_ne, log_prev @ w - state["c_ne"], 0.0)
        eta = p["logit_p"] + own_any * ((y_prev > 0) - state["c_any"]) + ne_any * z_ne + x_any
        loc = p["log_mu"] + own_amount * (log_prev - state["c_own"]) + ne_amount * z_ne + x_amount
        y = hurdle_inverse_cdf(uniforms[:, h, :], special.expit(eta), loc, p["log_sigma"])
        if scenario:
            for region, values in scenario.items():
                if values.ndim == 0:
                    y[:, region] = y[:, region] * float(values)
                elif h < values.size and not np.isnan(values[h]):
                    y[:, region] = values[h]
        y[:, ~alive] = np.nan
        paths[:, h, :] = y
        y_prev = np.nan_to_num(y, nan=0.0)
    return paths

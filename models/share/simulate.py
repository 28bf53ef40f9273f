"""Joint forward simulation of share paths (the share family of models.share.model): all regions stepped together.

Each step draws the latent logit ``z* = mu + sigma * Phi^-1(u)`` from exactly one uniform per
(path, step, region) and reports ``0`` if ``z*`` is at or below logit(floor), ``1`` if at or above
logit(1 - floor), else ``expit(z*)``; the reported share, clipped to the bounds on the logit scale,
is the next step's lag, as in the fitted model; neighbours enter as departures from their own
mean logit (models.share.model says why), so a cut channel removes the source's movements, not its level
read as a 50% share. Two runs with the same uniforms therefore differ
only by what the cut channel (``w[q, r] = 0``) or the scenario changes.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from models.fitting.design import channel_weights
from models.questions.covariates import covariate_term


def simulate_share(spec, params, state, *, idx, uniforms, cut=None, scenario=None, covariates=None) -> np.ndarray:
    """Return simulated shares (draws, horizon, regions) in [0, 1]; regions without data are NaN.

    `params` holds posterior samples (sample, ...) named as in models.share.model (a, rho, psi, sigma,
    beta); `state` the fit's simulation state; `cut` = (source index, target index) removes that
    neighbour channel; `scenario` maps a region index to shares per step (NaN = keep the simulated
    value) or to a 0-d scale factor (simulated share times the factor, clipped to [0, 1]); `covariates`
    (models.questions.covariates.CovariatePaths) gives the covariates read at each step (None: held at the last value).
    """
    draws, horizon, n_regions = uniforms.shape
    lo, hi = (float(b) for b in state["bounds"])
    floor = float(special.expit(lo))
    alive = state["alive"].astype(bool)
    w = channel_weights(state["weights"], alive, cut)
    has_ne = state["has_ne"].astype(bool)
    p = {k: v[idx] for k, v in params.items()}
    mean_shift = p["a"] - p["rho"] * state["c_own"]
    psi = p["psi"] * has_ne
    centre = state["source_centre"]
    z_prev = np.broadcast_to(np.nan_to_num(state["z_last"], nan=0.0), (draws, n_regions)).copy()
    paths = np.empty((draws, horizon, n_regions))
    for h in range(horizon):
        mu = (mean_shift + covariate_term(p.get("beta"), state, covariates, h) + p["rho"] * z_prev
              + psi * ((z_prev - centre) @ w))
        latent = mu + p["sigma"] * special.ndtri(uniforms[:, h, :])
        share = np.where(latent <= lo, 0.0, np.where(latent >= hi, 1.0, special.expit(latent)))
        if scenario:
            for region, values in scenario.items():
                if values.ndim == 0:
                    share[:, region] = np.clip(share[:, region] * float(values), 0.0, 1.0)
                elif h < values.size and not np.isnan(values[h]):
                    share[:, region] = values[h]
        share[:, ~alive] = np.nan
        paths[:, h, :] = share
        z_prev = np.nan_to_num(special.logit(np.clip(share, floor, 1.0 - floor)), nan=0.0)
    return paths

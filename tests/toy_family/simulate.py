"""Joint simulation of the toy family: each value is the NB inverse CDF of its one uniform."""

from __future__ import annotations

import numpy as np
from scipy import stats


def simulate_toy(spec, params, state, *, idx, uniforms, cut=None, scenario=None, covariates=None) -> np.ndarray:
    """Return paths (draws, horizon, regions) of the pooled NB; regions without data are NaN, a scenario
    replaces a region's values (no lags: it changes nothing else), `cut` and `covariates` change nothing."""
    mu = np.exp(params["log_mu"][idx])[:, None, None]
    alpha = np.exp(params["log_alpha"][idx])[:, None, None]
    paths = stats.nbinom.ppf(uniforms, alpha, alpha / (alpha + mu))
    for region, values in (scenario or {}).items():
        if values.ndim == 0:
            paths[:, :, region] = np.round(paths[:, :, region] * float(values))
        else:
            steps = min(values.size, paths.shape[1])
            given = ~np.isnan(values[:steps])
            paths[:, :steps, region][:, given] = values[:steps][given]
    paths[:, :, ~state["alive"].astype(bool)] = np.nan
    return paths

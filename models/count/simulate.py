"""Joint forward simulation of count paths: every region stepped together, per posterior draw.

Randomness is fixed up front: a seed gives the posterior draw used by each path and one uniform
per (path, step, region); each simulated count is the NB inverse CDF of its uniform. Two runs
with the same seed therefore share their random numbers, so a run with the q->r channel cut
(``cut=(q, r)``: w[q, r] = 0, the other neighbours' weights unchanged) differs from the uncut run
by that channel alone, and where the channel carries nothing the paths are identical.
A scenario replaces a region's simulated values with given ones (they feed the lags).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from models.count.mixture import PathMixture
from models.count.tails import below_threshold, ceilings, recent_pool, tail_safe_draw
from models.fitting.design import channel_weights
from models.questions.covariates import covariate_term

MAX_LOG_MU = 16.0  # exp(16) ~ 8.9e6 per month: a cap that keeps a runaway draw finite


def simulate_count_spec(spec, params, state, *, idx, uniforms, cut=None, scenario=None, covariates=None,
                        condition=None):
    """Return count paths (draws, horizon, regions) for a count spec (its form picks the mean equation); with
    a `condition` (paths, no-crossing probabilities): see simulate_count."""
    return simulate_count(spec.form, params, state, idx=idx, uniforms=uniforms, cut=cut, scenario=scenario,
                          covariates=covariates, condition=condition,
                          ceiling_factor=spec.options.get("ceiling_factor"),
                          own_lag_months=int(spec.options.get("own_lag_months", 1)),
                          pool_weight=float(spec.options.get("pool_weight", 0.0)))


def nb_inverse_cdf(u: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Return NB counts with mean `mu` and size `alpha` (variance mu + mu^2/alpha) at probabilities `u`.

    Exact: the smallest k with CDF(k) >= u. A Cornish-Fisher guess is corrected by a few vectorised
    steps on the exact CDF (regularised incomplete beta); the rare cells still off are handed to
    scipy.stats.nbinom.ppf. Several times faster than calling nbinom.ppf on everything.
    """
    u, mu, alpha = np.broadcast_arrays(np.asarray(u, float), np.maximum(np.asarray(mu, float), 0.0),
                                       np.asarray(alpha, float))
    p = alpha / (alpha + mu)
    sd = np.sqrt(mu + mu * mu / alpha)
    skew = np.divide(2.0 - p, np.sqrt(alpha * (1.0 - p)), out=np.zeros_like(p), where=p < 1.0)
    z = special.ndtri(u)
    k = np.floor(mu + sd * (z + (z * z - 1.0) * skew / 6.0))
    k = np.clip(np.nan_to_num(k, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)

    k = k.ravel().copy()
    uu, aa, pp = u.ravel(), alpha.ravel(), p.ravel()
    todo = np.arange(k.size)
    for _ in range(4):
        if todo.size == 0:
            break
        kt = k[todo]
        below = special.betainc(aa[todo], kt + 1.0, pp[todo]) < uu[todo]  # CDF(k) < u: k too small
        above = np.zeros_like(below)
        check = ~below & (kt > 0)
        above[check] = special.betainc(aa[todo][check], kt[check], pp[todo][check]) >= uu[todo][check]
        k[todo] = kt + below - above
        todo = todo[below | above]
    if todo.size:
        k[todo] = stats.nbinom.ppf(uu[todo], aa[todo], pp[todo])
    k = k.reshape(u.shape)
    return k


def simulate_count(
    form: str,
    params: dict[str, np.ndarray],
    state: dict[str, np.ndarray],
    *,
    idx: np.ndarray,
    uniforms: np.ndarray,
    cut: tuple[int, int] | None = None,
    scenario: dict[int, np.ndarray] | None = None,
    covariates=None,
    ceiling_factor: float | None = None,
    pool_weight: float = 0.0,
    own_lag_months: int = 1,
    condition: tuple[int, float] | None = None,
):
    """Return simulated paths (draws, horizon, regions); regions without data are NaN.

    `params` holds posterior samples (sample, ...) as named in models.count.model; `state` the fit's
    simulation state; `cut` = (source index, target index); `scenario` maps a region index to
    values per step (NaN = keep the simulated value) or to a 0-d scale factor (see models.questions.simulation);
    `covariates` (models.questions.covariates.CovariatePaths) gives the covariates read at each step (None: held);
    `ceiling_factor` and `pool_weight` make the draws tail-safe (see models.count.tails; None / 0: plain NB);
    `own_lag_months` > 1 reads the own lag as the median of that many last months (as the fit did).
    `condition` = (region index, threshold): that region is drawn given that it stays below the threshold,
    and (paths, no_crossing) is returned, `no_crossing` (draws,) being each path's probability of never
    reaching the threshold given the rest of its path (a Rao-Blackwellised "not within H"; see
    models.count.tails.below_threshold). The conditioned region must not be one a scenario sets.
    A state with ``mix_weights`` (a fit with the learned combination) mixes every region's paths with its
    analogues and conflictology months (models.count.mixture); a conditioned region's paths are then the
    model's, and its `no_crossing` the mixture's.
    """
    draws, horizon, n_regions = uniforms.shape
    alive = state["alive"].astype(bool)
    w = channel_weights(state["weights"], alive, cut)
    has_ne = state["has_ne"].astype(bool)
    p = {k: v[idx] for k, v in params.items()}
    window = np.broadcast_to(state["window"].T[None], (draws,) + state["window"].T.shape).copy()  # (D, 12, R)
    y_prev = np.nan_to_num(window[:, -1, :], nan=0.0)
    paths = np.empty((draws, horizon, n_regions))
    ceiling = ceilings(state["history_max"], ceiling_factor) if "history_max" in state else None
    pool = recent_pool(state["window"]) if pool_weight > 0 else None
    no_crossing = np.ones(draws)
    mixture = (PathMixture(state, uniforms, model_only=condition[0] if condition is not None else None)
               if "mix_weights" in state else None)
    for h in range(horizon):
        ne = y_prev @ w
        x_term = covariate_term(p.get("beta"), state, covariates, h)
        if form == "linear":
            mu = np.exp(np.minimum(p["a"] + x_term, MAX_LOG_MU)) + p["lam"] * y_prev + p["phi"] * ne * has_ne
            alpha = p["alpha"]
        else:
            level = _nanmean(window)
            z_level = np.log1p(level) - state["c_level"]
            own = y_prev if own_lag_months == 1 else _nanmedian_last(window, own_lag_months)
            z_own = np.log1p(own) - state["c_own"]
            z_ne = np.where(has_ne, np.log1p(ne) - state["c_ne"], 0.0)
            log_mu = p["a"] + p["lam"] * z_own + p["kap"] * z_level + p["phi"] * z_ne + x_term
            mu = np.exp(np.clip(log_mu, -20.0, MAX_LOG_MU))
            log_alpha = p["log_alpha"] + p["alpha_slope"][:, None] * (np.log1p(level) - state["c_disp"][0])
            if "alpha_vol_slope" in p:
                log_alpha = log_alpha + p["alpha_vol_slope"][:, None] * (window_log_sd(window, axis=1)
                                                                         - state["c_vol"][0])
            alpha = np.exp(np.clip(log_alpha, -10.0, 12.0))
        u = uniforms[:, h, :] if mixture is None or h else mixture.first_uniforms(uniforms[:, 0, :])
        if condition is not None:
            u = _below_threshold_column(u, mu, alpha, condition, no_crossing, ceiling=ceiling, pool=pool,
                                        pool_weight=pool_weight)
        y = tail_safe_draw(u, mu, alpha, nb_inverse_cdf, ceiling=ceiling, pool=pool, pool_weight=pool_weight)
        if mixture is not None:
            y = mixture.apply(y, h)
        if scenario:
            _apply_scenario(y, scenario, h)
        y[:, ~alive] = np.nan
        paths[:, h, :] = y
        y_prev = np.nan_to_num(y, nan=0.0)
        window[:, :-1, :] = window[:, 1:, :]
        window[:, -1, :] = y
    if condition is not None and mixture is not None:
        no_crossing = mixture.no_crossing(condition[0], condition[1], horizon, no_crossing)
    return (paths, no_crossing) if condition is not None else paths


def _apply_scenario(y: np.ndarray, scenario: dict[int, np.ndarray], h: int) -> None:
    """Replace, in place, the step-`h` draws `y` (paths, regions) of the regions a scenario sets."""
    for region, values in scenario.items():
        if values.ndim == 0:
            y[:, region] = np.round(y[:, region] * float(values))
        elif h < values.size and not np.isnan(values[h]):
            y[:, region] = values[h]


def _below_threshold_column(u, mu, alpha, condition, no_crossing, *, ceiling, pool, pool_weight) -> np.ndarray:
    """Return the step's uniforms with the conditioned region's column remapped below its threshold, and
    multiply `no_crossing` (in place) by that column's probability of staying below."""
    region, threshold = condition
    alpha_col = np.broadcast_to(alpha, mu.shape)[:, region]
    region_pool = (pool[0][region], int(pool[1][region])) if pool is not None else None
    column, below = below_threshold(u[:, region], mu[:, region], alpha_col, threshold,
                                    ceiling=None if ceiling is None else float(ceiling[region]),
                                    pool=region_pool, pool_weight=pool_weight)
    no_crossing *= below
    u = u.copy()
    u[:, region] = np.clip(column, 1e-12, 1 - 1e-12)
    return u


def _nanmedian_last(window: np.ndarray, months: int) -> np.ndarray:
    """Return the median over the last `months` observed entries of each (path, region) window (0 when none)."""
    recent = window[:, -months:, :]
    out = np.zeros(recent.shape[::2])
    seen = ~np.isnan(recent).all(axis=1)
    if seen.any():
        out[seen] = np.nanmedian(recent.transpose(0, 2, 1)[seen], axis=1)
    return out


def _nanmean(window: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(window)
    total = np.where(ok, window, 0.0).sum(axis=1)
    n = ok.sum(axis=1)
    return np.divide(total, n, out=np.zeros_like(total), where=n > 0)


def window_log_sd(window: np.ndarray, axis: int) -> np.ndarray:
    """Return the sd of log1p over the observed entries of `window` along `axis` (0 with fewer than two)."""
    x = np.log1p(window)
    ok = ~np.isnan(x)
    n = ok.sum(axis=axis)
    x0 = np.where(ok, x, 0.0)
    mean = np.divide(x0.sum(axis=axis), n, out=np.zeros(n.shape), where=n > 0)
    dev = np.where(ok, x - np.expand_dims(mean, axis), 0.0)
    return np.sqrt(np.divide((dev * dev).sum(axis=axis), n - 1, out=np.zeros(n.shape), where=n > 1))

"""Synthetic count panels: the hhh4 level form of DESIGN section 3 (endemic + own lag + neighbour lag,
negative binomial), stationary by construction and burnt in, with the truth that made them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from indicators.errors import InputError
from indicators.panel import Panel
from indicators.periods import parse_period
from indicators.regions import check_normalise, weights_matrix
from indicators.synthetic.graphs import GraphSpec, hide_cells, isolated, panel_regions
from indicators.synthetic.truths import CountTruth

MAX_GROWTH = 0.85
"""Largest lambda_r + phi_r drawn by default; keeps every series stationary with room to spare."""


def _param(name: str, override: object, drawn: np.ndarray) -> np.ndarray:
    """Return `override` broadcast to the shape of `drawn` (or `drawn` if no override)."""
    if override is None:
        return drawn
    try:
        return np.broadcast_to(np.asarray(override, dtype=float), drawn.shape).copy()
    except ValueError:
        raise InputError(f"{name} must be a scalar or one value per region ({drawn.shape[0]})") from None


def simulate_count_panel(
    n_regions: int = 20,
    n_periods: int = 120,
    *,
    seed: int = 0,
    spillover: bool = True,
    indicator: str = "attacks",
    graph: GraphSpec = "grid",
    missing_fraction: float = 0.0,
    normalise: str = "target",
    start: str = "2010-01",
    burn_in: int = 100,
    a: object = None,
    lam: object = None,
    phi: object = None,
    alpha: object = None,
    phi_targets: Sequence[str] | None = None,
    covariate: tuple[str, np.ndarray] | None = None,
    beta: float = 0.0,
) -> tuple[Panel, CountTruth]:
    """Return (panel, truth): counts from the hhh4 level form with partial pooling across regions.

    mu[r,t] = exp(a_r) + lam_r * y[r,t-1] + phi_r * sum_q W[q,r] y[q,t-1];
    y[r,t] ~ NegativeBinomial(mean mu, size alpha_r) (variance mu + mu^2/alpha_r).
    Population draws: a_r ~ N(1, 0.5); log lam_r ~ N(log 0.35, 0.25) clipped to [0.1, 0.6];
    log phi_r ~ N(log 0.15, 0.4) clipped to [0.02, 0.3] and then to 0.85 - lam_r;
    log alpha_r ~ N(log 5, 0.3). Overrides `a`, `lam`, `phi`, `alpha` (scalar or per region)
    replace the draws; `spillover=False` sets every phi_r = 0; `phi_targets` keeps phi only
    for those regions; regions without neighbours get phi_r = 0. The chain starts at its
    stationary mean and runs `burn_in` months before the first kept month `start`.
    `graph` is "grid", "ring" or a region list (e.g. `load_demo_regions()`, n_regions is then ignored).
    `covariate=(name, values)` with values (n_regions, n_periods) adds `beta * x[r, t-1]` to the endemic
    log level, x the values standardised as the models standardise a covariate (`standardised_lag`;
    0 before the first kept month), and puts the covariate into the panel under `name`.

    Raises
    ------
    InputError
        Bad sizes, fractions or overrides, or parameters whose process is not stationary.
    """
    regions, ids = panel_regions(n_regions, n_periods, graph)
    n = len(ids)
    check_normalise(normalise)
    start = parse_period(start)
    rng = np.random.default_rng(seed)
    weights = weights_matrix(regions, ids, normalise)
    a_r, lam_r, phi_r, alpha_r = _draw_count_parameters(rng, n, a=a, lam=lam, phi=phi, alpha=alpha)
    _restrict_spillover(phi_r, ids, weights, spillover, phi_targets)
    transition = _stationary_transition(lam_r, phi_r, alpha_r, weights)
    endemic = np.exp(a_r)
    mean = np.linalg.solve(np.eye(n) - transition, endemic)
    cov_values = _checked_covariate(covariate, n, n_periods)
    x_lag = np.zeros((n, burn_in + n_periods))
    if cov_values is not None:
        x_lag[:, burn_in + 1:] = standardised_lag(cov_values)[:, :-1]
    series = _run_count_chain(rng, np.round(mean), endemic[:, None] * np.exp(beta * x_lag), transition, alpha_r)
    values = series[:, burn_in:]
    observed = np.where(hide_cells(rng, values.shape, missing_fraction), np.nan, values)
    series_by_name = {indicator: observed}
    if covariate is not None:
        series_by_name[covariate[0]] = cov_values
    panel = Panel.from_arrays(regions, start, series_by_name, normalise)
    truth = CountTruth(ids, a_r, lam_r, phi_r, alpha_r, normalise, seed, indicator, weights, values, mean,
                       dict(COUNT_POPULATION), covariate[0] if covariate is not None else None,
                       float(beta) if covariate is not None else 0.0)
    return panel, truth


COUNT_POPULATION = {"a_mu": 1.0, "a_sigma": 0.5, "log_lambda_mu": math.log(0.35), "log_lambda_sigma": 0.25,
                    "log_phi_mu": math.log(0.15), "log_phi_sigma": 0.4, "log_alpha_mu": math.log(5.0),
                    "log_alpha_sigma": 0.3}
"""The population the count parameters are drawn from (see `simulate_count_panel`), as kept in `CountTruth`."""


def _draw_count_parameters(
    rng: np.random.Generator, n: int, *, a: object, lam: object, phi: object, alpha: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (a_r, lam_r, phi_r, alpha_r) drawn from COUNT_POPULATION, overrides applied (drawn anyway, in order)."""
    a_r = _param("a", a, rng.normal(1.0, 0.5, n))
    lam_r = _param("lam", lam, np.clip(np.exp(rng.normal(math.log(0.35), 0.25, n)), 0.1, 0.6))
    phi_drawn = np.clip(np.exp(rng.normal(math.log(0.15), 0.4, n)), 0.02, 0.3)
    phi_r = _param("phi", phi, np.minimum(phi_drawn, np.maximum(MAX_GROWTH - lam_r, 0.0)))
    alpha_r = _param("alpha", alpha, np.exp(rng.normal(math.log(5.0), 0.3, n)))
    return a_r, lam_r, phi_r, alpha_r


def _restrict_spillover(
    phi_r: np.ndarray, ids: list[str], weights: np.ndarray, spillover: bool, phi_targets: Sequence[str] | None
) -> None:
    """Set phi_r to 0 in place: everywhere without spillover, outside `phi_targets`, and where no neighbour feeds in.

    Returns nothing; raises InputError for a target that is not a region.
    """
    if not spillover:
        phi_r[:] = 0.0
    if phi_targets is not None:
        unknown = sorted(set(phi_targets) - set(ids))
        if unknown:
            raise InputError(f"phi_targets has unknown region(s): {', '.join(unknown)}")
        phi_r[~np.isin(ids, list(phi_targets))] = 0.0
    phi_r[isolated(weights)] = 0.0


def _stationary_transition(
    lam_r: np.ndarray, phi_r: np.ndarray, alpha_r: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Return the transition matrix (mu = endemic + transition @ y).

    Raises InputError if a parameter is out of range or the process is explosive.
    """
    if (lam_r < 0).any() or (phi_r < 0).any() or (alpha_r <= 0).any():
        raise InputError("lam and phi must be >= 0 and alpha > 0")
    transition = np.diag(lam_r) + phi_r[:, None] * weights.T
    radius = float(np.max(np.abs(np.linalg.eigvals(transition)))) if len(lam_r) else 0.0
    if radius >= 1.0:
        raise InputError(f"lam/phi give an explosive process (spectral radius {radius:.3f} >= 1); lower them")
    return transition


def _checked_covariate(covariate: tuple[str, np.ndarray] | None, n: int, n_periods: int) -> np.ndarray | None:
    """Return the covariate values as floats (None without a covariate); InputError unless shaped (n, n_periods)."""
    if covariate is None:
        return None
    values = np.asarray(covariate[1], dtype=float)
    if values.shape != (n, n_periods):
        raise InputError(f"covariate values have shape {values.shape}, expected ({n}, {n_periods})")
    return values


def _run_count_chain(
    rng: np.random.Generator, first: np.ndarray, endemic: np.ndarray, transition: np.ndarray, alpha_r: np.ndarray
) -> np.ndarray:
    """Return the (n_regions, n_months) negative binomial counts of the chain from `first`, `endemic` per month."""
    previous = first
    series = np.empty(endemic.shape)
    for t in range(endemic.shape[1]):
        mu = endemic[:, t] + transition @ previous
        previous = rng.negative_binomial(alpha_r, alpha_r / (alpha_r + mu)).astype(float)
        series[:, t] = previous
    return series


def standardised_lag(values: np.ndarray) -> np.ndarray:
    """Return covariate values standardised as the models do: log1p first unless they lie in [0, 1], then
    centred on the mean and divided by the sd of the observed values (NaN stays NaN, read as 0 by the generator)."""
    obs = values[~np.isnan(values)]
    t = np.log1p(values) if obs.size and obs.min() >= 0 and obs.max() > 1 else values
    tobs = t[~np.isnan(t)]
    spread = float(tobs.std()) if tobs.size > 1 and tobs.std() > 0 else 1.0
    return np.nan_to_num((t - (tobs.mean() if tobs.size else 0.0)) / spread, nan=0.0)

"""Synthetic panels with known truth, for recovery tests, demos and benchmarks.

- `simulate_count_panel`: the hhh4 level form of DESIGN section 3 (endemic + own lag + neighbour lag,
  negative binomial), stationary by construction (lambda_r + phi_r <= 0.85) and burnt in.
- `simulate_share_panel`: AR(1) on logit(share) with a neighbour term; shares below/above a
  detection floor are reported as exact 0 / 1.
- `simulate_amount_panel`: hurdle, Bernoulli(any seizure) x LogNormal(amount), by region.

Every generator uses `numpy.random.Generator(seed)` only: the same arguments give the same panel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from indicators.errors import InputError
from indicators.panel import Panel
from indicators.periods import parse_period
from indicators.regions import Region, check_normalise, validate_regions, weights_matrix

GraphSpec = str | Sequence[dict] | Sequence[Region]

MAX_GROWTH = 0.85
"""Largest lambda_r + phi_r drawn by default; keeps every series stationary with room to spare."""


@dataclass(frozen=True)
class CountTruth:
    """The parameters that generated a count panel, arrays in region order."""

    regions: list[str]
    a: np.ndarray
    lam: np.ndarray
    phi: np.ndarray
    alpha: np.ndarray
    normalise: str
    seed: int
    indicator: str = "attacks"
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """Complete simulated counts (n_regions, n_periods) before any cells were hidden as missing."""
    stationary_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    population: dict = field(default_factory=dict)
    covariate: str | None = None
    """Name of the covariate in the endemic part (None: no covariate)."""
    beta: float = 0.0
    """Its coefficient on the standardised scale (see `standardised_lag`)."""


@dataclass(frozen=True)
class ShareTruth:
    """The parameters of a share panel: logit z[t] = c + rho*z[t-1] + psi*(W^T z[t-1]) + sigma*eps."""

    regions: list[str]
    level: np.ndarray
    rho: np.ndarray
    psi: np.ndarray
    sigma: np.ndarray
    normalise: str
    seed: int
    indicator: str = "militia_share"
    exact_below: float = 0.01
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    latent: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    population: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AmountTruth:
    """The parameters of an amount panel: any ~ Bernoulli(p_any); amount | any ~ LogNormal(log_mu, log_sigma)."""

    regions: list[str]
    p_any: np.ndarray
    log_mu: np.ndarray
    log_sigma: np.ndarray
    seed: int
    indicator: str = "seizures_kg"
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    population: dict = field(default_factory=dict)


def make_graph(n_regions: int, graph: GraphSpec = "grid") -> list[Region]:
    """Return validated regions for a named layout ("grid": rook moves on a near-square grid,
    "ring": a cycle) with ids "R01".., or validate and return a given region list.

    Raises
    ------
    InputError
        Unknown layout name or fewer than 1 region.
    BatchRejected
        If a given region list is inconsistent.
    """
    if not isinstance(graph, str):
        return validate_regions(list(graph))
    if n_regions < 1:
        raise InputError(f"n_regions must be >= 1, got {n_regions}")
    width = max(2, len(str(n_regions)))
    ids = [f"R{i + 1:0{width}d}" for i in range(n_regions)]
    links: list[set[int]] = [set() for _ in range(n_regions)]
    if graph == "grid":
        cols = math.ceil(math.sqrt(n_regions))
        for i in range(n_regions):
            if (i + 1) % cols and i + 1 < n_regions:
                links[i].add(i + 1)
                links[i + 1].add(i)
            if i + cols < n_regions:
                links[i].add(i + cols)
                links[i + cols].add(i)
    elif graph == "ring":
        for i in range(n_regions):
            j = (i + 1) % n_regions
            if j != i:
                links[i].add(j)
                links[j].add(i)
    else:
        raise InputError(f"graph must be 'grid', 'ring' or a list of regions, got {graph!r}")
    return validate_regions(
        [{"id": ids[i], "name": f"Region {i + 1}", "neighbours": [ids[j] for j in sorted(links[i])]}
         for i in range(n_regions)]
    )


def _param(name: str, override: object, drawn: np.ndarray) -> np.ndarray:
    """Return `override` broadcast to the shape of `drawn` (or `drawn` if no override)."""
    if override is None:
        return drawn
    try:
        return np.broadcast_to(np.asarray(override, dtype=float), drawn.shape).copy()
    except ValueError:
        raise InputError(f"{name} must be a scalar or one value per region ({drawn.shape[0]})") from None


def _hide_cells(rng: np.random.Generator, shape: tuple[int, int], missing_fraction: float) -> np.ndarray:
    """Return a boolean mask of cells to hide; the first and last month always keep region 0."""
    if not 0.0 <= missing_fraction < 1.0:
        raise InputError(f"missing_fraction must be in [0, 1), got {missing_fraction}")
    mask = rng.random(shape) < missing_fraction
    mask[0, 0] = mask[0, -1] = False
    return mask


def _isolated(weights: np.ndarray) -> np.ndarray:
    """Return True for regions that receive no neighbour weight."""
    return weights.sum(axis=0) == 0


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
    regions = make_graph(n_regions, graph)
    ids = [region.id for region in regions]
    n = len(ids)
    if n_periods < 2:
        raise InputError(f"n_periods must be >= 2, got {n_periods}")
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
    observed = np.where(_hide_cells(rng, values.shape, missing_fraction), np.nan, values)
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
    phi_r[_isolated(weights)] = 0.0


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
    regions = make_graph(n_regions, graph)
    ids = [region.id for region in regions]
    n = len(ids)
    if n_periods < 2:
        raise InputError(f"n_periods must be >= 2, got {n_periods}")
    rng = np.random.default_rng(seed)
    weights = weights_matrix(regions, ids, check_normalise(normalise))
    level = rng.normal(-1.0, 1.8, n)
    if n >= 2:  # one region near 0 and one near 1, so exact 0s and 1s always occur
        level[np.argmin(level)] = min(level.min(), -5.0)
        level[np.argmax(level)] = max(level.max(), 5.0)
    rho = rng.uniform(0.5, 0.85, n)
    psi = rng.uniform(0.0, 0.1, n) if spillover else np.zeros(n)
    psi[_isolated(weights)] = 0.0
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
    observed = np.where(_hide_cells(rng, values.shape, missing_fraction), np.nan, values)
    panel = Panel.from_arrays(regions, parse_period(start), {indicator: observed}, normalise)
    population = {"level_mu": -1.0, "level_sigma": 1.8, "rho": (0.5, 0.85), "psi": (0.0, 0.1), "sigma": (0.2, 0.5)}
    truth = ShareTruth(ids, level, rho, psi, sigma, normalise, seed, indicator, exact_below, weights, latent, values,
                       population)
    return panel, truth


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
    regions = make_graph(n_regions, graph)
    ids = [region.id for region in regions]
    n = len(ids)
    if n_periods < 2:
        raise InputError(f"n_periods must be >= 2, got {n_periods}")
    rng = np.random.default_rng(seed)
    p_any = 1.0 / (1.0 + np.exp(-rng.normal(0.5, 1.2, n)))
    log_mu = rng.normal(2.0, 0.8, n)
    log_sigma = rng.uniform(0.4, 1.0, n)
    any_seizure = rng.random((n, n_periods)) < p_any[:, None]
    amount = np.exp(log_mu[:, None] + log_sigma[:, None] * rng.standard_normal((n, n_periods)))
    values = np.where(any_seizure, amount, 0.0)
    observed = np.where(_hide_cells(rng, values.shape, missing_fraction), np.nan, values)
    panel = Panel.from_arrays(regions, parse_period(start), {indicator: observed})
    population = {"logit_p_mu": 0.5, "logit_p_sigma": 1.2, "log_mu_mu": 2.0, "log_mu_sigma": 0.8,
                  "log_sigma": (0.4, 1.0)}
    return panel, AmountTruth(ids, p_any, log_mu, log_sigma, seed, indicator, values, population)

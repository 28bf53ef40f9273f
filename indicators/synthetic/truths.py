"""The truth records of the synthetic panels: the parameters (and complete values) that generated each panel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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

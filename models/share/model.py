"""Share family: hierarchical AR(1) on logit(share) with a neighbour term; exact 0 and 1 are censored.

For region r, month t, with ``z = logit(clip(y, floor, 1 - floor))`` and ``L, U = logit(floor), logit(1 - floor)``:

    mu[r,t] = a_r + rho_r * (z[r,t-1] - c_own_r) + psi_r * ne[r,t-1] + beta . x[r,t-1]
    ne[r,t-1] = sum_q w[q,r] * (z[q,t-1] - m_q)
    z*[r,t] ~ Normal(mu[r,t], sigma_r)        y = 0 if z* <= L, 1 if z* >= U, else expit(z*)

so an interior share contributes the Normal density of its logit and a share at or below the
floor (exact 0) or at or above 1 - floor (exact 1) the Normal probability mass beyond the bound
(censored likelihood, ``pm.Censored``). Lags of censored cells are taken at the bound, exactly as
forecasts feed simulated 0/1 back into the lags, so fitting and simulation are the same model.
The neighbour term is over the neighbours observed at t-1 (renormalised), ``w`` target-normalised
unless ``normalise="source"``; each source enters as its departure from its own mean logit ``m_q``
(a data constant). Why: on the logit scale 0 means a 50% share, so cutting the q->r channel
(``w[q,r] = 0``, the spillover question) with raw logits would silently set the source to 50%;
with departures the cut means "q's movements no longer reach r", and a source's constant level,
which the data cannot tell apart from the target's intercept, is left in ``a_r``. ``c_own_r`` is the
region's mean own lag, so ``a_r`` is the mean logit share at average lags and is nearly
uncorrelated with ``rho_r``. Every region-level parameter is partially pooled: ``rho_r`` in (0, 1)
through a logit-normal, ``psi_r`` normal (a neighbour channel may be nil), ``log sigma_r`` normal;
``a_r`` and ``log sigma_r`` are drawn centred for informative series and non-centred otherwise
(``centred: "auto"``, see `CENTRED_MIN_CELLS`), ``rho_r`` and ``psi_r`` non-centred.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import special

from indicators import Panel
from models.core.errors import SpecError
from models.core.spec import ModelSpec
from models.fitting.design import last_window, neighbour_mean, standardised_covariates
from models.fitting.family_model import FamilyModel, base_info, base_state, region_mean
from models.fitting.priors import create, hierarchical
from models.share.priors import SHARE_PRIORS
from models.share.simulate import simulate_share

FORM = "logit_ar1"
DEFAULT_FLOOR = 0.01
"""Shares at or below this (and at or above 1 - this) are read as censored exact 0 (1); matches the
synthetic generator's detection floor."""
CENTRED_MIN_CELLS = 24
"""Where a prior says "auto": regions with at least this many cells in the likelihood, at least
`CENTRED_MIN_LEVEL_INTERIOR` of them interior, draw their level `a` centred (a long run of exact 0s with
a few interior months pins the level; an all-0 series only bounds it from above); regions with this many
interior cells draw sigma centred (only interior cells say anything about the spread). Everything else
is non-centred."""
CENTRED_MIN_LEVEL_INTERIOR = 1

@dataclass(frozen=True)
class ShareDesign:
    """Likelihood arrays on the logit scale, one entry per usable cell."""

    y: np.ndarray            # (n_obs,) logit share, censored cells on the bounds
    y_lag: np.ndarray        # (n_obs,) own logit share at t-1
    ne_lag: np.ndarray       # (n_obs,) neighbour mean of logit departures z - m at t-1 (0 without neighbours)
    x_lag: np.ndarray        # (n_obs, n_covariates) standardised covariates at t-1
    region_idx: np.ndarray   # (n_obs,) int region index
    has_ne: np.ndarray       # (n_regions,) bool: region has a neighbour with data
    fitted: np.ndarray       # (n_regions,) bool: region has at least one cell in the likelihood


def source_centres(z: np.ndarray) -> np.ndarray:
    """Return each region's mean observed logit share m_q (0 for a region without data)."""
    observed = ~np.isnan(z)
    n = observed.sum(axis=1)
    return np.divide(np.where(observed, z, 0.0).sum(axis=1), n, out=np.zeros(z.shape[0]), where=n > 0)


def build_share_design(z: np.ndarray, weights: np.ndarray, covariates: list[np.ndarray], *,
                       spillover: bool) -> ShareDesign:
    """Return the ShareDesign of a (region, period) logit array (NaN = missing), its weights and covariates.

    A cell enters only if it and its own lag are observed, every covariate lag is observed and, for a
    region with neighbours, at least one neighbour is observed at t-1 (gaps are skipped, never filled).
    """
    n_regions = z.shape[0]
    observed = ~np.isnan(z)
    has_ne = (weights[observed.any(axis=1)].sum(axis=0) > 0) if spillover else np.zeros(n_regions, bool)
    ne = neighbour_mean(z - source_centres(z)[:, None], weights) if spillover else np.zeros(z.shape)
    usable = np.zeros(z.shape, bool)
    usable[:, 1:] = observed[:, 1:] & observed[:, :-1]
    if spillover:
        usable[:, 1:] &= ~np.isnan(ne[:, :-1]) | ~has_ne[:, None]
    for cov in covariates:
        usable[:, 1:] &= ~np.isnan(cov[:, :-1])
    r_idx, t_idx = np.nonzero(usable)
    x = (np.stack([c[r_idx, t_idx - 1] for c in covariates], axis=1) if covariates
         else np.zeros((r_idx.size, 0)))
    fitted = np.zeros(n_regions, bool)
    fitted[np.unique(r_idx)] = True
    return ShareDesign(y=z[r_idx, t_idx], y_lag=z[r_idx, t_idx - 1],
                       ne_lag=np.where(has_ne[r_idx], ne[r_idx, t_idx - 1], 0.0), x_lag=x,
                       region_idx=r_idx.astype(np.int64), has_ne=has_ne, fitted=fitted)


class ShareModel(FamilyModel):
    """Hierarchical logit-AR(1) share model; `fit(panel)` returns a `Fit` (posterior + what simulation needs).

    Parameters
    ----------
    indicator : share indicator id to model (values in [0, 1]; exact 0 and 1 allowed)
    covariates : other indicators' ids, entered lagged and standardised (default none)
    spillover : include the neighbour term psi_r (default True)
    normalise : "target" (default) or "source" neighbour weights
    floor : detection floor: shares <= floor are censored at 0, >= 1 - floor at 1 (default 0.01)
    priors : overrides of `models.share.priors.SHARE_PRIORS`, key by key
    """

    family = "share"
    kind = "share"
    simulate = staticmethod(simulate_share)
    default_priors = {FORM: SHARE_PRIORS}
    region_data = ("has_ne", "centred_level", "centred_dynamics")
    value_ceiling = 1.0

    def __init__(self, indicator: str, covariates: list[str] | tuple[str, ...] = (), spillover: bool = True,
                 normalise: str = "target", floor: float = DEFAULT_FLOOR, priors: dict | None = None) -> None:
        try:
            floor = float(floor)
        except (TypeError, ValueError):
            raise SpecError(f"floor must be a number in (0, 0.5), got {floor!r}") from None
        if not 0.0 < floor < 0.5:
            raise SpecError(f"floor must lie in (0, 0.5), got {floor}")
        self.use_spec(ModelSpec(family="share", indicator=indicator, covariates=tuple(covariates),
                                spillover=bool(spillover), normalise=normalise, form=FORM,
                                priors=dict(priors or {}), options={"floor": floor}))
        self.floor = floor
        self.bounds = (float(special.logit(floor)), float(special.logit(1.0 - floor)))

    # -- data -------------------------------------------------------------------------------
    def logit_values(self, values: np.ndarray) -> np.ndarray:
        """Return logit(clip(values, floor, 1 - floor)); NaN stays NaN (censored cells sit exactly on the bounds)."""
        z = special.logit(np.clip(values, self.floor, 1.0 - self.floor))
        z = np.where(values <= self.floor, self.bounds[0], z)
        return np.where(values >= 1.0 - self.floor, self.bounds[1], z)

    def prepare(self, panel: Panel) -> tuple[ShareDesign, dict[str, np.ndarray], dict]:
        """Return (design on the logit scale, simulation state arrays, info); raises SpecError on bad input."""
        spec = self.spec
        values = self.indicator_values(panel)
        bad = ~np.isnan(values) & ((values < 0) | (values > 1) | ~np.isfinite(values))
        if bad.any():
            r, t = map(int, np.argwhere(bad)[0])
            raise SpecError(f"{spec.indicator!r} is not a share indicator: values must lie in [0, 1], "
                            f"region {panel.regions[r]!r} period {panel.periods[t]} has {float(values[r, t])} "
                            f"({int(bad.sum())} bad value(s))")
        covs, transforms = standardised_covariates(panel, spec.covariates)
        weights = np.asarray(panel.weights(spec.normalise), dtype=float)
        z = self.logit_values(values)
        design = build_share_design(z, weights, covs, spillover=spec.spillover)
        if design.y.size == 0:
            raise SpecError(f"no usable cells for {spec.indicator!r}: "
                            "every region needs two consecutive observed months")
        state = base_state(values, weights, covs, design.has_ne)
        state.update(z_last=last_window(z, 1)[:, 0],
                     c_own=region_mean(design.y_lag, design.region_idx, values.shape[0]),
                     source_centre=source_centres(z), bounds=np.array(self.bounds))
        lo, hi = self.bounds
        info = base_info(list(panel.regions), values, design, transforms, spec.normalise)
        info.update(n_censored_low=int((design.y <= lo).sum()), n_censored_high=int((design.y >= hi).sum()),
                    floor=self.floor)
        return design, state, info

    # -- model ------------------------------------------------------------------------------
    def data_arrays(self, design: ShareDesign, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the pm.Data arrays of the model (what changes between fits of one shape family)."""
        r = design.region_idx
        lo, hi = self.bounds
        cells = np.bincount(r, minlength=design.has_ne.size)
        interior = np.bincount(r[(design.y > lo) & (design.y < hi)], minlength=design.has_ne.size)
        data = {
            "z": design.y, "region_idx": r,
            "z_own": design.y_lag - state["c_own"][r],
            "z_ne": np.where(design.has_ne[r], design.ne_lag, 0.0),
            "has_ne": design.has_ne.astype(float),
            "centred_level": ((cells >= CENTRED_MIN_CELLS) & (interior >= CENTRED_MIN_LEVEL_INTERIOR)).astype(float),
            "centred_dynamics": (interior >= CENTRED_MIN_CELLS).astype(float),
        }
        self.add_covariate_data(data, design)
        return data

    def build(self, data: dict[str, np.ndarray], regions: list[str]) -> pm.Model:
        """Return the PyMC model over `data` (from `data_arrays`) with dims region, obs, covariate."""
        p = self.priors
        model, d = self.model_with_data(data, regions, observed="z")
        with model:
            r = d["region_idx"]
            a = hierarchical("a", p["a"], centred=d["centred_level"])
            logit_rho = hierarchical("logit_rho", p["logit_rho"], centred=d["centred_dynamics"])
            rho = pm.Deterministic("rho", pm.math.sigmoid(logit_rho), dims="region")
            log_sigma = hierarchical("log_sigma", p["log_sigma"], centred=d["centred_dynamics"])
            sigma = pm.Deterministic("sigma", pm.math.exp(log_sigma), dims="region")
            if self.spec.spillover:
                psi = pm.Deterministic("psi", hierarchical("psi_pooled", p["psi"]) * d["has_ne"], dims="region")
            else:
                psi = pm.Deterministic("psi", pt.zeros_like(a), dims="region")
            mu = a[r] + rho[r] * d["z_own"] + psi[r] * d["z_ne"]
            if self.spec.covariates:
                mu = mu + pt.dot(d["x"], create("beta", p["beta"], dims="covariate"))
            lo, hi = self.bounds
            pm.Censored("z_obs", pm.Normal.dist(mu=mu, sigma=sigma[r]), lower=lo, upper=hi,
                        observed=d["z"], dims="obs")
        return model

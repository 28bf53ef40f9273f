"""Amount family: hurdle model, Bernoulli(any seizure) x LogNormal(amount), hierarchical by region.

For region r, month t (a cell enters the likelihood only when y[r,t] and y[r,t-1] are observed,
and some neighbour is observed at t-1 when r has neighbours: gaps are skipped, never zero-filled):

    logit P(y > 0)       = logit_p_r + own_any_r * z_any + ne_any_r * z_ne + beta_any . x
    log y | y > 0        ~ Normal(log_mu_r + own_amount_r * z_own + ne_amount_r * z_ne + beta_amount . x,
                                  log_sigma_r)

with the region-centred lags ``z_any = 1[y[t-1] > 0] - c_any_r``, ``z_own = log1p(y[t-1]) - c_own_r``
and ``z_ne = sum_q w[q,r] log1p(y[q,t-1]) - c_ne_r`` (mean over the neighbours observed at t-1;
``w`` target-normalised unless ``normalise="source"``). So ``p_any = sigmoid(logit_p)``, ``log_mu``
and ``log_sigma`` (the standard deviation of log amounts, the synthetic truth's name) describe the
region at its average lags. The own-lag terms (``persistence=True``) and the neighbour terms
(``spillover=True``) have one population coefficient each (stored per region, 0 where a region has
no neighbours): on data without dynamics they come out near 0, and the neighbour terms give
spillover its meaning (the q->r channel is w[q,r], cut with common random numbers in
`models.amount.simulate`). Region-level versions of them were tried: on 20 regions x 120 months
of the synthetic truth their population scales mixed slowly (R-hat 1.017 after 2 x 1000 draws).
Every region-level parameter (logit_p, log_mu, ln_sigma) is drawn from a population distribution,
centred where a region's data are informative ("auto") and non-centred elsewhere: all non-centred
gave a bulk ESS of 72 against 511 on that panel (log_mu_loc mixes slowly).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from indicators import Panel
from models.amount.priors import AMOUNT_PRIORS
from models.amount.simulate import simulate_amount
from models.core.errors import SpecError
from models.core.spec import ModelSpec
from models.fitting.design import CountDesign, build_count_design, last_window, neighbour_mean, standardised_covariates
from models.fitting.family_model import FamilyModel, base_info, base_state, region_mean
from models.fitting.priors import create, hierarchical

FORM = "hurdle"
CENTRED_MIN_POSITIVE = 30
"""Regions with at least this many positive months draw log_mu and ln_sigma centred."""
CENTRED_MIN_MINORITY = 15
"""Regions with at least this many zero and this many positive months draw logit_p centred."""


class AmountModel(FamilyModel):
    """Hierarchical hurdle log-normal amount model; `fit(panel)` returns a `Fit`.

    Parameters
    ----------
    indicator : amount indicator id (non-negative reals, e.g. kilograms seized)
    covariates : other indicators' ids, entered lagged and standardised (default none)
    spillover : include the neighbour terms (default True)
    normalise : "target" (default) or "source" neighbour weights
    persistence : include the own-lag terms (default True)
    priors : overrides of `models.amount.priors.AMOUNT_PRIORS`, key by key
    """

    family = "amount"
    kind = "amount"
    simulate = staticmethod(simulate_amount)
    default_priors = {FORM: AMOUNT_PRIORS}
    region_data = ("has_ne", "centred_any", "centred_amount")
    extra_dims = {"pos_idx": "pos", "log_amount": "pos"}

    def __init__(self, indicator: str, covariates: list[str] | tuple[str, ...] = (), spillover: bool = True,
                 normalise: str = "target", persistence: bool = True, priors: dict | None = None) -> None:
        if not isinstance(persistence, bool):
            raise SpecError(f"persistence must be true or false, got {persistence!r}")
        self.use_spec(ModelSpec(family="amount", indicator=indicator, covariates=tuple(covariates),
                                spillover=bool(spillover), normalise=normalise, form=FORM,
                                priors=dict(priors or {}), options={"persistence": persistence}))

    @property
    def persistence(self) -> bool:
        """Return whether the own-lag terms are in the model."""
        return bool(self.spec.options.get("persistence", True))

    # -- data -------------------------------------------------------------------------------
    def prepare(self, panel: Panel) -> tuple[CountDesign, dict[str, np.ndarray], dict]:
        """Return (lagged design, simulation state arrays, info) for a panel; raises SpecError on bad input.

        The design's `ne_lag` holds the neighbour mean of log1p amounts at t-1 (0 without neighbours).
        """
        spec = self.spec
        values = self.indicator_values(panel)
        obs = values[~np.isnan(values)]
        if obs.size and (not np.all(np.isfinite(obs)) or obs.min() < 0):
            raise SpecError(f"{spec.indicator!r} is not an amount indicator: values must be finite and non-negative")
        covs, transforms = standardised_covariates(panel, spec.covariates)
        weights = np.asarray(panel.weights(spec.normalise), dtype=float)
        design = build_count_design(values, weights, covs, spillover=spec.spillover)
        if design.y.size == 0:
            raise SpecError(f"no usable cells for {spec.indicator!r}: "
                            "every region needs two consecutive observed months")
        if not np.any(design.y > 0):
            raise SpecError(f"{spec.indicator!r} has no positive amount in the usable months: "
                            "the log-normal part cannot be fitted")
        # the neighbour term of this family is the neighbour mean of log1p amounts (robust to huge months)
        ne_log = neighbour_mean(np.log1p(values), weights) if spec.spillover else np.zeros(values.shape)
        ne_lag = np.where(design.has_ne[design.region_idx], ne_log[design.region_idx, design.period_idx - 1], 0.0)
        design = replace(design, ne_lag=ne_lag)
        info = base_info(list(panel.regions), values, design, transforms, spec.normalise)
        info["n_positive"] = int((design.y > 0).sum())
        return design, amount_state(values, weights, covs, design), info

    # -- model ------------------------------------------------------------------------------
    def data_arrays(self, design: CountDesign, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the pm.Data arrays of the model (what changes between fits of one shape family)."""
        r = design.region_idx
        n_regions = design.has_ne.size
        positive = design.y > 0
        n_pos = np.bincount(r[positive], minlength=n_regions)
        n_zero = np.bincount(r[~positive], minlength=n_regions)
        data = {
            "any": positive.astype(np.int64),
            "region_idx": r,
            "pos_idx": np.flatnonzero(positive).astype(np.int64),
            "log_amount": np.log(design.y[positive]),
            "z_any": (design.y_lag > 0) - state["c_any"][r],
            "z_own": np.log1p(design.y_lag) - state["c_own"][r],
            "z_ne": np.where(design.has_ne[r], design.ne_lag - state["c_ne"][r], 0.0),
            "has_ne": design.has_ne.astype(float),
            "centred_any": (np.minimum(n_pos, n_zero) >= CENTRED_MIN_MINORITY).astype(float),
            "centred_amount": (n_pos >= CENTRED_MIN_POSITIVE).astype(float),
        }
        self.add_covariate_data(data, design)
        return data

    def build(self, data: dict[str, np.ndarray], regions: list[str]) -> pm.Model:
        """Return the PyMC model over `data` (from `data_arrays`) with dims region, obs, pos, covariate."""
        p = self.priors
        model, d = self.model_with_data(data, regions, observed="any", pos=np.arange(data["log_amount"].size))
        with model:
            r = d["region_idx"]
            logit_p = hierarchical("logit_p", p["logit_p"], centred=d["centred_any"])
            log_mu = hierarchical("log_mu", p["log_mu"], centred=d["centred_amount"])
            ln_sigma = hierarchical("ln_sigma", p["ln_sigma"], centred=d["centred_amount"])
            pm.Deterministic("p_any", pm.math.sigmoid(logit_p), dims="region")
            log_sigma = pm.Deterministic("log_sigma", pm.math.exp(ln_sigma), dims="region")
            eta = logit_p[r]
            loc = log_mu[r]
            ones = pt.ones_like(d["has_ne"])
            if self.persistence:
                own_any = pm.Deterministic("own_any", create("own_any_pop", p["own_any"]) * ones, dims="region")
                own_amount = pm.Deterministic("own_amount", create("own_amount_pop", p["own_amount"]) * ones,
                                              dims="region")
                eta = eta + own_any[r] * d["z_any"]
                loc = loc + own_amount[r] * d["z_own"]
            if self.spec.spillover:  # zero for a region without neighbours: nothing can spill into it
                ne_any = pm.Deterministic("ne_any", create("ne_any_pop", p["ne_any"]) * d["has_ne"], dims="region")
                ne_amount = pm.Deterministic("ne_amount", create("ne_amount_pop", p["ne_amount"]) * d["has_ne"],
                                             dims="region")
                eta = eta + ne_any[r] * d["z_ne"]
                loc = loc + ne_amount[r] * d["z_ne"]
            if self.spec.covariates:
                eta = eta + pt.dot(d["x"], create("beta_any", p["beta_any"], dims="covariate"))
                loc = loc + pt.dot(d["x"], create("beta_amount", p["beta_amount"], dims="covariate"))
            pm.Bernoulli("any_obs", logit_p=eta, observed=d["any"], dims="obs")
            pos = d["pos_idx"]
            # log y ~ Normal is y ~ LogNormal up to the Jacobian, a constant in the parameters
            pm.Normal("log_amount_obs", mu=loc[pos], sigma=log_sigma[r[pos]], observed=d["log_amount"], dims="pos")
        return model


def amount_state(values: np.ndarray, weights: np.ndarray, covs: list[np.ndarray],
                 design: CountDesign) -> dict[str, np.ndarray]:
    """Return what amount simulation starts from: the shared state, the last observed month (`window`) and
    the centring constants of the lags."""
    n_regions = values.shape[0]
    r = design.region_idx
    state = base_state(values, weights, covs, design.has_ne)
    state.update(window=last_window(values, 1),
                 c_any=region_mean((design.y_lag > 0).astype(float), r, n_regions),
                 c_own=region_mean(np.log1p(design.y_lag), r, n_regions),
                 c_ne=region_mean(design.ne_lag, r, n_regions))
    return state

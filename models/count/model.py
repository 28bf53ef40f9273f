"""Count family: endemic-epidemic negative-binomial model with partial pooling (hhh4 vocabulary).

Two forms (``form=``):

- ``"linear"`` -- the hhh4 level form of DESIGN section 3 (the synthetic generator's form):
  ``mu = exp(a_r + beta.x) + lam_r * y[r,t-1] + phi_r * ne[r,t-1]``, ``lam_r`` in (0, 1)
  (logit-normal), ``phi_r = h_r``, one NB size ``alpha_r`` per region.

In both forms ``h_r`` is a regularised horseshoe (``priors["spillover"]``, models.fitting.priors.shrunk_positive): most
regions' neighbour coefficient sits near 0 and only the channels the data support escape, so a region can have
none (issue 27).
- ``"loglinear"`` -- stationary log-linear form: with ``z = log1p`` of the lags, centred per region,
  ``log mu = a_r + lam_r z_own + kap_r z_level + phi_r z_ne + beta.x`` where ``z_level`` is the
  region's 12-month level, ``phi_r = min(h_r, 0.95 rho_r)`` and ``(lam, kap) = (rho_r - phi_r) softmax(0, s_level_r)``
  so ``lam + kap + phi = rho_r < 1`` (stationary by construction). NB size grows with the level:
  ``log alpha = d0_r + d1 * (log1p(L12) - c)`` (``dispersion="volatility"`` adds ``d2 * (sd12 - c)``,
  sd12 the sd of log1p over the last 12 months). ``persistence="unit"`` sets ``rho_r = 1``.

Forecasts of the loglinear form are tail-safe by default (models.count.tails): each simulated month is
truncated at ``ceiling_factor`` (3) times the region's record and, with probability ``pool_weight``
(0.5), drawn from the region's last 12 observed months instead (a stacking with ViEWS'
"conflictology"); both act on the same uniforms, so a cut channel keeps its meaning.

Only the last ``fit_months`` months (loglinear default 120) enter the likelihood; lags may reach further back.

``ne[r,t-1]`` is ``sum_q w[q,r] y[q,t-1]`` over the neighbours observed at t-1 (renormalised);
``w`` is target-normalised (1/|N(r)|) unless ``normalise="source"`` (hhh4's 1/|N(q)|).
Every region-level parameter is drawn from a population distribution, non-centred by default.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from indicators import Panel
from models.core.errors import SpecError
from models.core.spec import ModelSpec
from models.count.backcast import learned_combination
from models.count.centring import dispersion_centring
from models.count.likelihood import negative_binomial_loglik
from models.count.priors import COUNT_PRIORS
from models.count.simulate import simulate_count_spec
from models.fitting.design import CountDesign, build_count_design, last_window, standardised_covariates
from models.fitting.family_model import FamilyModel, base_info, base_state, region_mean
from models.fitting.priors import create, hierarchical, region_or_pooled, shrunk_positive

DEFAULT_FORM = "loglinear"
PHI_CAP = 0.95
"""Loglinear: a region's neighbour elasticity is at most this share of its persistence rho_r."""
DEFAULT_PERSISTENCE = "stationary"  # chosen by bench/skill.py over 2001-2021 and the world panel (see the notes)
DEFAULT_CEILING_FACTOR = 3.0
"""Loglinear default: simulated months are truncated at 3 x the region's record
(at least 300; see models.count.tails)."""
DEFAULT_POOL_WEIGHT = 0.5
"""Loglinear default: half of the simulated months come from the region's last 12 observed months
(models.count.tails)."""
FORMS = ("linear", "loglinear")
DISPERSIONS = ("level", "volatility")
DEFAULT_DISPERSION = "level"
DEFAULT_FIT_MONTHS = 120
"""Months at the end of the panel whose cells enter the likelihood (lags may reach further back); None: all."""
CENTRED_MIN_POSITIVE = 120
"""Regions with at least this many positive months are drawn centred where a prior says centred="auto"
(with the 120-month window: only series positive in every month; a lower bar -- 96 -- centred all 20
synthetic regions of bench/sampling.py and log_alpha_scale fell into a funnel: ESS 63, divergences).
The NB dispersion (log_alpha) is centred by `models.count.centring.dispersion_centring` instead."""
QUIET_MAX_POSITIVE = 12
"""Regions with fewer positive months are "quiet": their intercept takes the prior's fixed `uninformed` Normal."""


class CountModel(FamilyModel):
    """Hierarchical NB count model; `fit(panel)` returns a `Fit` (posterior + what simulation needs).

    Parameters
    ----------
    indicator : count indicator id to model
    covariates : other indicators' ids, entered lagged and standardised (default none)
    spillover : include the neighbour component (default True)
    normalise : "target" (default) or "source" neighbour weights
    form : "loglinear" (default) or "linear" (hhh4 level form)
    persistence : loglinear only: "stationary" (default: lam + kap + phi = rho_r < 1, reverting to the
        region's log level over the likelihood window a_r) or "unit" (lam + kap + phi = 1: anchored on the
        recent 12-month level, a_r a drift per month -- it extrapolates the window's growth: paths exploded
        after shocks, see models/NOTES_count_model.md)
    dispersion : loglinear only: "level" (default; NB size grows with the 12-month level) or "volatility"
        (also falls with the sd of log1p over the last 12 months)
    fit_months : only outcomes in the last `fit_months` months of the panel enter the likelihood (their
        lags may reach further back); "default": 120 for the loglinear form (chosen by bench/skill.py: the
        dispersion and level of a series' war decades 20-30 years ago do not describe its present), None
        (the whole history) for the linear form
    own_lag_months : loglinear only: the own lag is the median of the last this-many months (default 1: the last month)
    ceiling_factor : simulated months are truncated at this times the region's record (at least 100 a month);
        "default": 3 for the loglinear form, None (no ceiling) for the linear form
    pool_weight : probability that a simulated month is drawn from the region's last 12 observed months;
        "default": 0.5 for the loglinear form, 0 for the linear form
    combination : "learned": the forecast mixes the model's paths with analogues and the conflictology, with
        weights per regime learned at fit time (models.count.mixture); None: the model's paths alone; "default":
        "learned" for the loglinear form, None for the linear form
    priors : overrides of `models.count.priors.COUNT_PRIORS[<form>]`, key by key; a region-level
        prior given as a plain distribution ``{"dist": ...}`` (logit_rho, share_level, log_alpha) makes that
        parameter one population value shared by every region; ``priors["spillover"]`` sets the horseshoe's
        global_scale, slab_scale and slab_df
    """

    family = "count"
    kind = "count"
    simulate = staticmethod(simulate_count_spec)
    default_priors = COUNT_PRIORS
    region_data = ("has_ne", "centred", "centred_alpha", "quiet", "disp_mean")

    def __init__(self, indicator: str, covariates: list[str] | tuple[str, ...] = (), spillover: bool = True,
                 normalise: str = "target", form: str = DEFAULT_FORM, priors: dict | None = None,
                 persistence: str = DEFAULT_PERSISTENCE, dispersion: str = DEFAULT_DISPERSION,
                 fit_months: int | None | str = "default", own_lag_months: int = 1,
                 ceiling_factor: float | None | str = "default", pool_weight: float | str = "default",
                 combination: str | None = "default") -> None:
        options = _checked_options(form, persistence, dispersion, fit_months=fit_months, own_lag_months=own_lag_months,
                                   ceiling_factor=ceiling_factor, pool_weight=pool_weight, combination=combination)
        self.use_spec(ModelSpec(family="count", indicator=indicator, covariates=tuple(covariates),
                                spillover=bool(spillover), normalise=normalise, form=form, priors=dict(priors or {}),
                                options=options))

    # -- data -------------------------------------------------------------------------------
    def prepare(self, panel: Panel) -> tuple[CountDesign, dict[str, np.ndarray], dict]:
        """Return (design, simulation state arrays, info) for a panel; raises SpecError on bad input."""
        spec = self.spec
        values = self.indicator_values(panel)
        obs = values[~np.isnan(values)]
        if obs.size and (obs.min() < 0 or np.any(obs != np.round(obs))):
            raise SpecError(f"{spec.indicator!r} is not a count indicator: values must be non-negative integers")
        covs, transforms = standardised_covariates(panel, spec.covariates)
        weights = np.asarray(panel.weights(spec.normalise), dtype=float)
        design = build_count_design(values, weights, covs, spillover=spec.spillover,
                                    first_period=max(values.shape[1]
                                                     - spec.options.get("fit_months", values.shape[1]), 0),
                                    own_lag_months=spec.options.get("own_lag_months", 1))
        if design.y.size == 0:
            raise SpecError(f"no usable cells for {spec.indicator!r}: "
                            "every region needs two consecutive observed months")
        state = count_state(values, weights, covs, design)
        return design, state, base_info(list(panel.regions), values, design, transforms, spec.normalise)

    def complete(self, fit, panel: Panel):
        """Return the fit with the learned combination in its state and info (models.count.mixture) when the spec
        asks for it; as is otherwise."""
        if self.spec.options.get("combination") == "learned":
            state, info = learned_combination(self, fit, panel, seed=int(fit.info.get("sampler", {}).get("seed", 0)))
            fit.state.update(state)
            fit.info["combination"] = info
        return fit

    # -- model ------------------------------------------------------------------------------
    def data_arrays(self, design: CountDesign, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the pm.Data arrays of the model (what changes between fits of one shape family)."""
        r = design.region_idx
        positives = np.bincount(r[design.y > 0], minlength=design.has_ne.size)
        data = {"y": design.y.astype(np.int64), "region_idx": r, "has_ne": design.has_ne.astype(float),
                "centred": (positives >= CENTRED_MIN_POSITIVE).astype(float),
                "centred_alpha": dispersion_centring(design.y, design.y_lag, design.level_lag, r, design.has_ne.size),
                "quiet": (positives < QUIET_MAX_POSITIVE).astype(float)}
        self.add_covariate_data(data, design)
        if self.spec.form == "linear":
            data.update(y_lag=design.y_lag, ne_lag=design.ne_lag)
        else:
            data.update(
                z_own=np.log1p(design.y_lag) - state["c_own"][r],
                z_level=np.log1p(design.level_lag) - state["c_level"][r],
                z_ne=np.where(design.has_ne[r], np.log1p(design.ne_lag) - state["c_ne"][r], 0.0),
                z_disp=np.log1p(design.level_lag) - state["c_disp"][0],
            )
            data["disp_mean"] = region_mean(data["z_disp"], r, design.has_ne.size)  # the shift's covariate, per region
            if self.spec.options.get("dispersion") == "volatility":
                data["z_vol"] = design.vol_lag - state["c_vol"][0]
        return data

    def build(self, data: dict[str, np.ndarray], regions: list[str]) -> pm.Model:
        """Return the PyMC model over `data` (from `data_arrays`) with dims region, obs, covariate."""
        p = self.priors
        model, d = self.model_with_data(data, regions, observed="y")
        with model:
            r = d["region_idx"]
            # intercepts: centred unless quiet
            a = hierarchical("a", p["a"], centred=1.0 - d["quiet"], quiet=d["quiet"])
            x_term = 0.0
            if self.spec.covariates:
                x_term = pt.dot(d["x"], create("beta", p["beta"], dims="covariate"))
            if self.spec.form == "linear":
                lam = pm.Deterministic("lam", pm.math.sigmoid(hierarchical("logit_lam", p["logit_lam"])), dims="region")
                phi = pm.Deterministic("phi", self.neighbour_coefficient(d, like=a), dims="region")
                alpha = pm.Deterministic("alpha", pm.math.exp(hierarchical("log_alpha", p["log_alpha"],
                                                                           centred=d["centred_alpha"],
                                                                           quiet=d["quiet"])),
                                         dims="region")
                mu = pm.math.exp(a[r] + x_term) + lam[r] * d["y_lag"] + phi[r] * d["ne_lag"]
                log_mu, log_alpha_obs = pt.log(mu), pt.log(alpha)[r]
            else:
                zero = pt.zeros_like(a)
                if self.spec.options.get("persistence") == "unit":  # weights sum to 1: anchored on the recent level
                    rho = 1.0
                else:
                    rho = pm.math.sigmoid(region_or_pooled("logit_rho", p["logit_rho"], like=zero, centred=d["centred"],
                                                           quiet=d["quiet"]))
                s_level = region_or_pooled("share_level", p["share_level"], centred=d["centred"], quiet=d["quiet"],
                                           like=zero)
                # the neighbour elasticity sits outside the own shares, capped below the persistence: lam + kap +
                # phi = rho stays stationary and a region's phi can be ~0 without moving its own shares
                phi = pm.Deterministic("phi", pt.minimum(self.neighbour_coefficient(d, like=zero),
                                                         PHI_CAP * rho), dims="region")
                w = pt.special.softmax(pt.stack([zero, s_level], axis=1), axis=1)
                lam = pm.Deterministic("lam", (rho - phi) * w[:, 0], dims="region")
                kap = pm.Deterministic("kap", (rho - phi) * w[:, 1], dims="region")
                log_mu = a[r] + lam[r] * d["z_own"] + kap[r] * d["z_level"] + phi[r] * d["z_ne"] + x_term
                log_mu = pt.clip(log_mu, -20.0, 16.0)
                slope = create("alpha_slope", p["alpha_slope"])
                # centred regions sample their dispersion at their own mean level (an exact shift): otherwise
                # alpha_slope and every busy region's log_alpha trade off along a ridge (world panel: ESS 115 a chain)
                log_alpha = region_or_pooled("log_alpha", p["log_alpha"], like=zero, centred=d["centred_alpha"],
                                             quiet=d["quiet"], shift=slope * d["disp_mean"])
                log_alpha_obs = log_alpha[r] + slope * d["z_disp"]
                if "z_vol" in d:  # recent volatility: calm spells of a once-violent series get a tighter NB
                    log_alpha_obs = log_alpha_obs + create("alpha_vol_slope", p["alpha_vol_slope"]) * d["z_vol"]
                log_alpha_obs = pt.clip(log_alpha_obs, -10.0, 12.0)
            negative_binomial_loglik("y_loglik", d["y"], log_mu, log_alpha_obs)
        return model

    def neighbour_coefficient(self, d: dict, like):
        """Return each region's neighbour coefficient before any cap: the horseshoe of `priors["spillover"]` on the
        regions with neighbours (zero elsewhere), or zeros shaped like `like` without a spillover component."""
        if not self.spec.spillover:
            return pt.zeros_like(like)
        return shrunk_positive("phi_hs", self.priors["spillover"], active=d["has_ne"])


def _check_choices(form: str, persistence: str, dispersion: str) -> None:
    """Return nothing if form, persistence and dispersion are known choices; raises SpecError otherwise."""
    if form not in FORMS:
        raise SpecError(f"unknown count form {form!r}; use one of {', '.join(FORMS)}")
    if persistence not in ("stationary", "unit"):
        raise SpecError(f"persistence must be 'stationary' or 'unit', got {persistence!r}")
    if dispersion not in DISPERSIONS:
        raise SpecError(f"dispersion must be one of {', '.join(DISPERSIONS)}, got {dispersion!r}")


def _resolved_defaults(form: str, fit_months, ceiling_factor, pool_weight) -> tuple:
    """Return (fit_months, ceiling_factor, pool_weight) with each "default" replaced by the form's default."""
    if fit_months == "default":
        fit_months = DEFAULT_FIT_MONTHS if form == "loglinear" else None
    if ceiling_factor == "default":
        ceiling_factor = DEFAULT_CEILING_FACTOR if form == "loglinear" else None
    if pool_weight == "default":
        pool_weight = DEFAULT_POOL_WEIGHT if form == "loglinear" else 0.0
    return fit_months, ceiling_factor, pool_weight


def _checked_options(form: str, persistence: str, dispersion: str, *, fit_months, own_lag_months,
                     ceiling_factor, pool_weight, combination="default") -> dict:
    """Return the spec options of a CountModel built from its arguments; raises SpecError on a bad argument."""
    _check_choices(form, persistence, dispersion)
    if combination == "default":
        combination = "learned" if form == "loglinear" else None
    if combination not in ("learned", None):
        raise SpecError(f"combination must be 'learned' or None (the model's paths alone), got {combination!r}")
    fit_months, ceiling_factor, pool_weight = _resolved_defaults(form, fit_months, ceiling_factor, pool_weight)
    if fit_months is not None and int(fit_months) < 24:
        raise SpecError(f"fit_months must be at least 24 (or None for the whole history), got {fit_months!r}")
    options = {"persistence": persistence, "dispersion": dispersion} if form == "loglinear" else {}
    if own_lag_months != 1:
        if form != "loglinear" or int(own_lag_months) < 1:
            raise SpecError("own_lag_months must be an integer >= 1 and needs the loglinear form, "
                            f"got {own_lag_months!r}")
        options["own_lag_months"] = int(own_lag_months)
    if ceiling_factor is not None:
        if float(ceiling_factor) < 1:
            raise SpecError(f"ceiling_factor must be at least 1 (or None: no ceiling), got {ceiling_factor!r}")
        options["ceiling_factor"] = float(ceiling_factor)
    if pool_weight:
        if not 0.0 <= float(pool_weight) < 1.0:
            raise SpecError(f"pool_weight must lie in [0, 1), got {pool_weight!r}")
        options["pool_weight"] = float(pool_weight)
    if fit_months is not None:
        options["fit_months"] = int(fit_months)
    if combination is not None:
        options["combination"] = combination
    return options


def count_state(values: np.ndarray, weights: np.ndarray, covs: list[np.ndarray],
                design: CountDesign) -> dict[str, np.ndarray]:
    """Return what count simulation starts from: the shared state, the last 12 observed months (`window`),
    each region's record (`history_max`) and the centring constants of the log-linear lags."""
    n_regions = values.shape[0]
    r = design.region_idx
    state = base_state(values, weights, covs, design.has_ne)
    state["window"] = last_window(values)
    state["history_max"] = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1).clip(0.0)
    state["c_own"] = region_mean(np.log1p(design.y_lag), r, n_regions)
    state["c_level"] = region_mean(np.log1p(design.level_lag), r, n_regions)
    state["c_ne"] = region_mean(np.log1p(design.ne_lag), r, n_regions)
    state["c_disp"] = np.array([float(np.log1p(design.level_lag).mean())])
    state["c_vol"] = np.array([float(design.vol_lag.mean())])
    return state

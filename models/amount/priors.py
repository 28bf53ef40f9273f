"""Default priors of the amount family (form "hurdle"); `AmountModel(priors=...)` overrides them key by key."""

from __future__ import annotations


def _normal(mu: float, sigma: float) -> dict:
    return {"dist": "Normal", "mu": mu, "sigma": sigma}


def _half(sigma: float) -> dict:
    return {"dist": "HalfNormal", "sigma": sigma}


AMOUNT_PRIORS: dict[str, dict] = {
    # region intercepts at the region's average lags
    "logit_p": {"loc": _normal(0.0, 2.0), "scale": _half(1.5), "centred": "auto"},
    "log_mu": {"loc": _normal(0.0, 5.0), "scale": _half(2.0), "centred": "auto"},
    "ln_sigma": {"loc": _normal(-0.5, 1.0), "scale": _half(0.5), "centred": "auto"},  # log of log_sigma
    # dynamics, one population coefficient each: own lag (persistence=True), neighbour mean (spillover=True)
    "own_any": _normal(0.0, 1.0),
    "own_amount": _normal(0.0, 0.5),
    "ne_any": _normal(0.0, 0.5),
    "ne_amount": _normal(0.0, 0.5),
    # covariates (standardised, lagged)
    "beta_any": _normal(0.0, 1.0),
    "beta_amount": _normal(0.0, 1.0),
}
"""Default priors of the amount model; `AmountModel(priors=...)` overrides them key by key."""

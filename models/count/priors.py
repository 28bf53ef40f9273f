"""Default priors of the count family, per form; `CountModel(priors=...)` overrides them key by key
(see models.fitting.priors)."""

from __future__ import annotations

from typing import Any

SPILLOVER_PRIOR: dict[str, Any] = {"shrinkage": "horseshoe", "global_scale": 0.1, "slab_scale": 0.3, "slab_df": 4.0}
"""The neighbour coefficient phi_r of every target region: a regularised horseshoe
(models.fitting.priors.shrunk_positive), so a region can have no channel at all (issue 27; the softmax share it
replaced gave every region one)."""

COUNT_PRIORS: dict[str, dict[str, dict[str, Any]]] = {
    # hhh4 level form, the synthetic generator's form: mu = exp(a) + lam*y_lag + phi*nbr
    "linear": {
        "a": {"loc": {"dist": "Normal", "mu": 0.0, "sigma": 2.0}, "scale": {"dist": "HalfNormal", "sigma": 1.0},
              "centred": "auto"},
        # a scale prior that keeps away from 0: with HalfNormal(0.75) the lam population collapsed (lam trades off
        # against exp(a) region by region): 11-12/20 true lam inside their 90% intervals in the slow recovery, 14/20 now
        "logit_lam": {"loc": {"dist": "Normal", "mu": -0.5, "sigma": 1.5},
                      "scale": {"dist": "Gamma", "alpha": 4.0, "beta": 8.0}},
        "spillover": SPILLOVER_PRIOR,
        "log_alpha": {"loc": {"dist": "Normal", "mu": 1.0, "sigma": 1.5},
                      "scale": {"dist": "HalfNormal", "sigma": 1.0}},
        "beta": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
    },
    # stationary log-linear form: log mu = a + rho*(shares . centred log1p lags)
    "loglinear": {
        "a": {"loc": {"dist": "Normal", "mu": 0.0, "sigma": 3.0}, "scale": {"dist": "HalfNormal", "sigma": 2.0},
              "centred": "auto", "uninformed": {"mu": -4.0, "sigma": 2.0}},
        # non-centred: centred where a series is positive in all 120 months (the old "auto") gave 683-2365
        # divergences on the real panel once stationary became the default; non-centred: 0, R-hat 1.007 (session 6)
        "logit_rho": {"loc": {"dist": "Normal", "mu": 1.0, "sigma": 1.5},
                      "scale": {"dist": "HalfNormal", "sigma": 0.5}},
        "share_level": {"loc": {"dist": "Normal", "mu": 0.0, "sigma": 1.5},
                        "scale": {"dist": "HalfNormal", "sigma": 0.5}, "centred": "auto"},
        "spillover": SPILLOVER_PRIOR,
        "log_alpha": {"loc": {"dist": "Normal", "mu": 0.0, "sigma": 1.5},
                      "scale": {"dist": "HalfNormal", "sigma": 0.5}, "centred": "auto"},
        "alpha_slope": {"dist": "Normal", "mu": 0.5, "sigma": 0.5},
        "alpha_vol_slope": {"dist": "Normal", "mu": -1.0, "sigma": 1.5},
        "beta": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
    },
}

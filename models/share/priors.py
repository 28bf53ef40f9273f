"""Default priors of the share family (form "logit_ar1"); `ShareModel(priors=...)` overrides them key by key."""

from __future__ import annotations

SHARE_PRIORS: dict[str, dict] = {
    "a": {"loc": {"dist": "Normal", "mu": 0.0, "sigma": 3.0}, "scale": {"dist": "HalfNormal", "sigma": 2.0},
          "centred": "auto"},
    # non-centred: a region's rho is known to about the population's own spread, where centred draws diverge
    "logit_rho": {"loc": {"dist": "Normal", "mu": 1.0, "sigma": 1.0}, "scale": {"dist": "HalfNormal", "sigma": 0.5},
                  "centred": False},
    # neighbour effects are small and alike (0.01-0.05 measured on counts): a tight spread; with
    # HalfNormal(0.1) its scale was the worst-mixing variable (bulk ESS 362 < 400 at 2 x 1000 draws, 20 x 120)
    "psi": {"loc": {"dist": "Normal", "mu": 0.0, "sigma": 0.2}, "scale": {"dist": "HalfNormal", "sigma": 0.05}},
    "log_sigma": {"loc": {"dist": "Normal", "mu": -1.0, "sigma": 1.0}, "scale": {"dist": "HalfNormal", "sigma": 0.5},
                  "centred": "auto"},
    "beta": {"dist": "Normal", "mu": 0.0, "sigma": 0.5},
}
"""Default priors of the share model, overridden key by key through ``priors=`` (see models.fitting.priors)."""

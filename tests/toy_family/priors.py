"""Default priors of the toy family (form "pooled"), overridden key by key through ``priors=``."""

TOY_PRIORS = {
    "log_mu": {"dist": "Normal", "mu": 0.0, "sigma": 3.0},
    "log_alpha": {"dist": "Normal", "mu": 1.0, "sigma": 1.5},
}

"""Share family: hierarchical logit-AR(1) with censored exact 0 and 1 (model.py), its default priors
(priors.py) and its joint simulator (simulate.py). Its model class declares its kind, simulator and priors;
importing it registers the family "share"."""

from models.fitting.registration import register_family
from models.share.model import ShareModel

register_family(ShareModel)

__all__ = ["ShareModel"]

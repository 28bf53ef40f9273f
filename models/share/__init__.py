"""Share family: hierarchical logit-AR(1) with censored exact 0 and 1 (model.py), its default priors
(priors.py) and its joint simulator (simulate.py). Importing it registers the family "share" (the
registration gives ShareModel its kind, simulator and priors)."""

from models.families import register_family
from models.share.model import FORM, ShareModel
from models.share.priors import SHARE_PRIORS
from models.share.simulate import simulate_share

register_family(ShareModel, kind="share", simulate=simulate_share, priors={FORM: SHARE_PRIORS})

__all__ = ["ShareModel"]

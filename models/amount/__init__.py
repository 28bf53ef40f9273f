"""Amount family: hurdle Bernoulli x LogNormal, hierarchical by region (model.py), its default priors
(priors.py) and its joint simulator (simulate.py). Its model class declares its kind, simulator and priors;
importing it registers the family "amount"."""

from models.amount.model import AmountModel
from models.fitting.registration import register_family

register_family(AmountModel)

__all__ = ["AmountModel"]

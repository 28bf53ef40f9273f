"""Amount family: hurdle Bernoulli x LogNormal, hierarchical by region (model.py), its default priors
(priors.py) and its joint simulator (simulate.py), declared on the model class. Importing it registers the
family "amount"."""

from models.amount.model import AmountModel
from models.families import register_family

register_family(AmountModel)

__all__ = ["AmountModel"]

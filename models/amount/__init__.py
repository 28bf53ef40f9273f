"""Amount family: hurdle Bernoulli x LogNormal, hierarchical by region (model.py), its default priors
(priors.py) and its joint simulator (simulate.py). Importing it registers the family "amount" (the
registration gives AmountModel its kind, simulator and priors)."""

from models.amount.model import FORM, AmountModel
from models.amount.priors import AMOUNT_PRIORS
from models.amount.simulate import simulate_amount
from models.families import register_family

register_family(AmountModel, kind="amount", simulate=simulate_amount, priors={FORM: AMOUNT_PRIORS})

__all__ = ["AmountModel"]

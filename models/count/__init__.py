"""Count family: the endemic-epidemic negative-binomial model (model.py), its default priors (priors.py),
its joint simulator (simulate.py) with tail-safe draws (tails.py), and where to centre its dispersion
(centring.py). Importing it registers the family "count" (the registration gives CountModel its kind,
simulator and priors, as the other families' classes declare them)."""

from models.count.model import CountModel
from models.count.priors import COUNT_PRIORS
from models.count.simulate import simulate_count_spec
from models.fitting.registration import register_family

register_family(CountModel, kind="count", simulate=simulate_count_spec, priors=COUNT_PRIORS, conditions=True)

__all__ = ["CountModel"]

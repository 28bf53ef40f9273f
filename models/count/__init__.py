"""Count family: the endemic-epidemic negative-binomial model (model.py), its default priors (priors.py),
its joint simulator (simulate.py) with tail-safe draws (tails.py), and where to centre its dispersion
(centring.py). Its model class declares its kind, simulator and priors (the simulator takes condition=, so the
family conditions); importing it registers the family "count"."""

from models.count.model import CountModel
from models.fitting.registration import register_family

register_family(CountModel)

__all__ = ["CountModel"]

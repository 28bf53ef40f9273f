"""A toy model family defined in this one folder and added through the registry alone: a pooled
negative-binomial mean shared by every region, no neighbours (model.py, priors.py, simulate.py).
Its model class declares its kind, simulator and priors; importing it registers the family "toy"
(for count indicators)."""

from models.fitting.registration import register_family
from tests.toy_family.model import ToyModel

register_family(ToyModel)

__all__ = ["ToyModel"]

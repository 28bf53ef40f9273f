"""A toy model family defined in this one folder and added through the registry alone: a pooled
negative-binomial mean shared by every region, no neighbours (model.py, priors.py, simulate.py).
Importing it registers the family "toy" (for count indicators)."""

from models.families import register_family
from tests.toy_family.model import FORM, ToyModel
from tests.toy_family.priors import TOY_PRIORS
from tests.toy_family.simulate import simulate_toy

register_family("toy", kind="count", model=ToyModel, simulate=simulate_toy, priors={FORM: TOY_PRIORS})

__all__ = ["ToyModel"]

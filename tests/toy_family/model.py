"""Toy family: y[r, t] ~ NegativeBinomial(exp(log_mu), exp(log_alpha)), one mean for every region and month."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm

from indicators import Panel
from models.core.errors import SpecError
from models.core.spec import ModelSpec
from models.fitting.family_model import FamilyModel, base_info, base_state
from models.fitting.priors import create
from tests.toy_family.priors import TOY_PRIORS
from tests.toy_family.simulate import simulate_toy

FORM = "pooled"


@dataclass(frozen=True)
class ToyDesign:
    """The observed cells: values, their regions, and per region whether it has neighbours (never) and cells."""

    y: np.ndarray
    region_idx: np.ndarray
    has_ne: np.ndarray
    fitted: np.ndarray


class ToyModel(FamilyModel):
    """Pooled negative-binomial counts without dynamics or neighbours; `fit(panel)` returns a `Fit`."""

    family = "toy"
    kind = "count"
    simulate = staticmethod(simulate_toy)
    default_priors = {FORM: TOY_PRIORS}

    def __init__(self, indicator: str, covariates: list[str] | tuple[str, ...] = (), spillover: bool = True,
                 normalise: str = "target", priors: dict | None = None) -> None:
        if covariates:
            raise SpecError("the toy family takes no covariates")
        self.use_spec(ModelSpec(family="toy", indicator=indicator, spillover=False, normalise=normalise,
                                form=FORM, priors=dict(priors or {})))

    def prepare(self, panel: Panel) -> tuple[ToyDesign, dict[str, np.ndarray], dict]:
        """Return (observed cells, simulation state, info); raises SpecError on bad input."""
        values = self.indicator_values(panel)
        observed = ~np.isnan(values)
        if np.any(values[observed] < 0) or np.any(values[observed] != np.round(values[observed])):
            raise SpecError(f"{self.spec.indicator!r} is not a count indicator")
        r_idx, t_idx = np.nonzero(observed)
        n_regions = values.shape[0]
        design = ToyDesign(y=values[r_idx, t_idx], region_idx=r_idx, has_ne=np.zeros(n_regions, bool),
                           fitted=observed.any(axis=1))
        weights = np.asarray(panel.weights(self.spec.normalise), dtype=float)
        state = base_state(values, weights, [], design.has_ne)
        return design, state, base_info(list(panel.regions), values, design, [], self.spec.normalise)

    def data_arrays(self, design: ToyDesign, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the observed counts, the model's only data."""
        return {"y": design.y.astype(np.int64)}

    def build(self, data: dict[str, np.ndarray], regions: list[str]) -> pm.Model:
        """Return the PyMC model: one log mean and one log NB size for every cell."""
        model, d = self.model_with_data(data, regions, observed="y")
        with model:
            log_mu = create("log_mu", self.priors["log_mu"])
            log_alpha = create("log_alpha", self.priors["log_alpha"])
            pm.NegativeBinomial("y_obs", mu=pm.math.exp(log_mu), alpha=pm.math.exp(log_alpha), observed=d["y"],
                                dims="obs")
        return model

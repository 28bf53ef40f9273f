"""A family added through the registry alone (tests/toy_family: one folder) is fitted, forecast and
backtested like the built-in ones; the registry checks what a family declares (FamilyModel's abstract
methods at instantiation, its kind, priors and simulator at definition and registration); an unknown family
name is a clear error. What every family does is tested once, over all of them, in test_family_contract.py."""

import numpy as np
import pytest

from indicators import simulate_count_panel
from models import FAMILIES, FamilyModel, ModelSpec, SpecError, register_family, run_backtest
from models.core.registry import _REGISTRY, family
from models.evaluation.backtest import family_model_forecaster, origins_for
from models.evaluation.baselines import BASELINES
from tests.toy_family import ToyModel
from tests.toy_family.simulate import simulate_toy


@pytest.fixture
def unregister():
    """Yield the names a test registers; removes them from the registry afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        _REGISTRY.pop(name, None)


def test_the_toy_family_is_registered_beside_the_built_in_ones():
    assert {"count", "share", "amount", "toy"} <= set(FAMILIES)
    entry = family("toy")
    assert entry.model is ToyModel and entry.kind == "count" and "pooled" in entry.priors
    assert ModelSpec(family="toy", indicator="attacks", form="pooled").family == "toy"


def test_only_a_family_whose_simulator_takes_a_condition_gets_exact_event_grids(unregister):
    assert family("count").conditions is True
    assert not family("share").conditions and not family("amount").conditions and not family("toy").conditions

    def conditioned_simulate(spec, params, state, *, idx, uniforms, cut=None, scenario=None, covariates=None,
                             condition=None):
        raise AssertionError("not called")

    class Conditioned(ToyModel):
        family = "toy_conditioned"
        simulate = staticmethod(conditioned_simulate)

    unregister.append("toy_conditioned")
    assert register_family(Conditioned).conditions is True
    assert register_family(Conditioned, conditions=False).conditions is False


def test_a_name_is_no_model_class():
    with pytest.raises(SpecError, match="subclass of models.FamilyModel"):
        register_family("toy_named", kind="count", simulate=simulate_toy)  # type: ignore[arg-type]


class Incomplete(FamilyModel):
    family = "incomplete"
    kind = "count"

    def prepare(self, panel):
        raise AssertionError("not called")


def test_an_incomplete_model_class_is_refused_at_instantiation_and_registration():
    with pytest.raises(TypeError, match="abstract class Incomplete .*build.*data_arrays"):
        Incomplete()
    with pytest.raises(SpecError, match="Incomplete does not implement build, data_arrays"):
        register_family(Incomplete, simulate=simulate_toy, priors=ToyModel.default_priors)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": int}, "must be a subclass of models.FamilyModel, got <class 'int'>"),
    ({"model": ToyModel, "simulate": lambda: 0}, r"cannot be called as simulate\(spec, params, state, \*, idx"),
    ({"model": ToyModel, "simulate": "simulate_toy"}, "the simulator must be a function"),
    ({"model": ToyModel, "kind": "counts"}, "kind must be one of count, share, amount"),
    ({"model": ToyModel, "priors": {"log_mu": {"dist": "Normal"}}}, r"must be \{form: \{parameter: prior\}\}"),
    ({"model": ToyModel, "priors": {}}, "default priors must be a non-empty"),
    ({"model": ToyModel, "name": "other"}, "ToyModel.family is 'toy'.* registered as 'other'"),
    ({"model": ToyModel, "conditions": True}, r"\(and condition=\)"),
])
def test_registration_refuses_a_bad_family_saying_what_to_do(kwargs, message):
    before = dict(FAMILIES)
    model = kwargs.pop("model")
    with pytest.raises(SpecError, match=message):
        register_family(model, **kwargs)
    assert dict(FAMILIES) == before  # nothing half-registered
    assert ToyModel.simulate is simulate_toy and ToyModel.kind == "count"  # nor the class changed


@pytest.mark.parametrize(("body", "message"), [
    ({"kind": "percent"}, "class Bad: kind must be one of"),
    ({"simulate": staticmethod(lambda spec: spec)}, "class Bad: the simulator .* cannot be called"),
    ({"default_priors": {"pooled": []}}, "class Bad: default priors must be"),
    ({"family": 3}, "class Bad: family must be the family's name"),
])
def test_a_bad_declaration_is_refused_when_the_class_is_defined(body, message):
    with pytest.raises(SpecError, match=message):
        type("Bad", (ToyModel,), body)


def test_the_toy_family_forecasts_near_its_data(toy_fit, tiny_panel):
    forecast = toy_fit.forecast(horizon=3, draws=400, seed=5)
    observed_mean = np.nanmean(tiny_panel.values("attacks"))
    assert 0.3 * observed_mean < np.nanmean(forecast.paths) < 3 * observed_mean


def test_the_toy_family_has_no_spillover_channel(toy_fit, tiny_panel):
    with pytest.raises(SpecError, match="no neighbour component"):
        toy_fit.spillover(tiny_panel.regions[0], tiny_panel.regions[1], threshold=5)


def test_the_toy_family_is_backtested_beside_the_baselines():
    panel, _ = simulate_count_panel(3, 36, seed=2, graph="ring")
    forecaster = family_model_forecaster("toy", spillover=False, draws=150, tune=150, forecast_draws=200)
    origins = origins_for(panel, "attacks", 2, 3, 2)
    result = run_backtest(panel, "attacks", {"model": forecaster, "persistence": BASELINES["persistence"]},
                          origins, 2, seed=1)
    assert not result.failures, result.failures
    rows = {(r["forecaster"], r["horizon"]): r for r in result.scores}
    assert rows[("model", 1)]["n"] == rows[("persistence", 1)]["n"] > 0
    assert rows[("model", 2)]["crps"] > 0


@pytest.mark.parametrize("ask", [lambda: family("poisson"), lambda: ModelSpec(family="poisson", indicator="x")])
def test_an_unknown_family_is_a_clear_error_naming_the_known_ones(ask):
    with pytest.raises(SpecError, match=r"unknown model family 'poisson'; use one of .*count.*toy"):
        ask()

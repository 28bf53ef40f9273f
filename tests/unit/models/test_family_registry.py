"""A family added through the registry alone (tests/toy_family: one folder) is fitted, forecast and
backtested like the built-in ones; an unknown family name is a clear error."""

import numpy as np
import pytest

import tests.toy_family  # noqa: F401  (registers the family "toy")
from indicators import simulate_count_panel
from models import FAMILIES, Fit, ModelSpec, SpecError, run_backtest
from models.backtest import family_model_forecaster, origins_for
from models.baselines import BASELINES
from models.families import family
from tests.toy_family import ToyModel


@pytest.fixture(scope="module")
def panel():
    """3 regions x 36 months of synthetic counts."""
    sim, _ = simulate_count_panel(3, 36, seed=2, graph="ring")
    return sim


@pytest.fixture(scope="module")
def toy_fit(panel):
    """A real nutpie fit of the toy family (2 chains x 200 draws)."""
    return ToyModel("attacks").fit(panel, draws=200, tune=200, chains=2, seed=1)


def test_the_toy_family_is_registered_beside_the_built_in_ones():
    assert {"count", "share", "amount", "toy"} <= set(FAMILIES)
    entry = family("toy")
    assert entry.model is ToyModel and entry.kind == "count" and "pooled" in entry.priors
    assert ModelSpec(family="toy", indicator="attacks", form="pooled").family == "toy"


def test_only_a_family_whose_simulator_takes_a_condition_gets_exact_event_grids():
    assert family("count").conditions is True
    assert not family("share").conditions and not family("amount").conditions and not family("toy").conditions
    from models.families import register_family

    def conditioned_simulate(spec, params, state, *, idx, uniforms, cut=None, scenario=None, covariates=None,
                             condition=None):
        raise AssertionError("not called")

    try:
        assert register_family("toy_conditioned", kind="count", model=ToyModel,
                               simulate=conditioned_simulate).conditions is True
        assert register_family("toy_conditioned", kind="count", model=ToyModel, simulate=conditioned_simulate,
                               conditions=False).conditions is False
    finally:
        from models.families import _REGISTRY
        _REGISTRY.pop("toy_conditioned", None)


def test_the_toy_family_fits_and_forecasts(panel, toy_fit, tmp_path):
    assert toy_fit.spec.family == "toy" and toy_fit.diagnostics["chains"] == 2
    assert set(toy_fit.samples()) >= {"log_mu", "log_alpha"}
    forecast = toy_fit.forecast(horizon=3, draws=400, seed=5)
    assert forecast.paths.shape == (400, 3, 3)
    assert np.all(forecast.paths >= 0) and np.all(forecast.paths == np.round(forecast.paths))
    observed_mean = np.nanmean(panel.values("attacks"))
    assert 0.3 * observed_mean < forecast.paths.mean() < 3 * observed_mean
    again = toy_fit.forecast(horizon=3, draws=400, seed=5)
    assert np.array_equal(forecast.paths, again.paths)
    scenario = toy_fit.forecast(horizon=3, draws=400, seed=5, scenario={panel.regions[0]: [7, None, 9]})
    assert np.all(scenario.paths[:, 0, 0] == 7) and np.all(scenario.paths[:, 2, 0] == 9)
    path = tmp_path / "toy.nc"
    toy_fit.save(path)
    loaded = Fit.load(path)
    assert loaded.spec == toy_fit.spec
    assert np.array_equal(loaded.forecast(horizon=3, draws=400, seed=5).paths, forecast.paths)


def test_the_toy_family_has_no_spillover_channel(toy_fit, panel):
    with pytest.raises(SpecError, match="no neighbour component"):
        toy_fit.spillover(panel.regions[0], panel.regions[1], threshold=5)


def test_the_toy_family_is_backtested_beside_the_baselines(panel):
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

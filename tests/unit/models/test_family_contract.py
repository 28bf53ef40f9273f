"""The family contract, checked over every registered family plus the toy family (tests/toy_family): what the
class declares is what the registry holds; a tiny real fit has region coordinates, leaves out gaps and empty
regions and has JSON diagnostics; forecasts have (draw, step, region) paths with the kind's values, repeat
for a seed and survive save/load; bad input is refused with a SpecError. What only one family does is tested
in its own file (test_count_fit.py, test_share_model.py, test_amount_model.py, test_family_registry.py)."""

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from indicators import Panel
from models import FAMILIES, AmountModel, CountModel, FamilyModel, Fit, ShareModel, SpecError
from models.core.registry import family
from tests.family_panels import N_MONTHS
from tests.toy_family import ToyModel


@dataclass(frozen=True)
class Case:
    """One family as the contract test meets it: its fit and panel fixtures, how to build its model, the
    likelihood cells of its panel, the posterior variable of its neighbour term (None: none), the bounds of
    its kind's values and a scenario (region, [value at step 1, None, value at step 3])."""

    fit: str
    panel: str
    make: Callable[..., FamilyModel]
    n_obs: int
    neighbour_term: str | None
    bounds: tuple[float, float]
    scenario: tuple[str, list]


LAGGED = N_MONTHS - 1  # cells with a lag per region
CASES = {
    # 4 regions with a lag, plus ISO, minus R2's gap month and the month after it; EMPTY has none
    "count": Case("linear_fit", "tiny_panel", lambda **kw: CountModel("attacks", form="linear", **kw),
                  5 * LAGGED - 2, "phi", (0, np.inf), ("R1", [7, None, 9])),
    "share": Case("share_fit", "share_panel", lambda **kw: ShareModel("militia_share", **kw),
                  8 * LAGGED - 2, "psi", (0, 1), ("R02", [0.9, None, 0.0])),
    "amount": Case("amount_fit", "amount_panel", lambda **kw: AmountModel("kg", **kw),
                   5 * LAGGED - 2, "ne_any", (0, np.inf), ("R1", [50.0, None, 0.0])),
    # no lags: every observed cell but R2's gap month
    "toy": Case("toy_fit", "tiny_panel", lambda **kw: ToyModel("attacks", **kw), 5 * N_MONTHS - 1, None,
                (0, np.inf), ("R1", [7, None, 9])),
}


@pytest.fixture(params=sorted(CASES))
def case(request) -> tuple[str, Case, Fit, Panel]:
    """(family name, its Case, its session fit, its panel)."""
    name = request.param
    spec = CASES[name]
    return name, spec, request.getfixturevalue(spec.fit), request.getfixturevalue(spec.panel)


def test_every_registered_family_has_a_contract_case():
    assert set(FAMILIES) == set(CASES), "add a Case for each new family"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_class_declares_what_the_registry_holds(name):
    entry = family(name)
    model = entry.model
    assert issubclass(model, FamilyModel) and not inspect.isabstract(model)
    assert model.family == name and model.kind == entry.kind
    assert model.simulate is entry.simulate and dict(model.default_priors) == dict(entry.priors)
    built = CASES[name].make()
    assert type(built) is model and built.spec.family == name and built.spec.form in entry.priors


def test_a_fit_has_region_coords_gaps_left_out_and_json_diagnostics(case):
    """The diagnostics' limits are those of a tiny fit that mixed, not one that converged: 2 x 150-200 draws
    give a worst bulk ESS and R-hat from a wide distribution (python -m bench.mixing over 16 seeds of the amount
    fit: bulk ESS min lowest 8.4, median 38.7; R-hat max median 1.057, highest 1.206); they still fail a stuck or
    diverged chain (ESS about 1-2, R-hat far above 1.3)."""
    name, spec, fit, panel = case
    post = fit.posterior["posterior"]
    for v in [v for v in post.data_vars if "region" in post[v].dims]:  # the toy family has none
        assert post[v].dims[:2] == ("chain", "draw") and list(post[v]["region"].values) == panel.regions, v
    assert not any(d in post[v].dims for v in post.data_vars for d in ("obs", "pos"))
    assert fit.skipped_regions == ["EMPTY"] and fit.info["n_obs"] == spec.n_obs
    if spec.neighbour_term:
        assert "ISO" in fit.info["no_neighbour_regions"]
        assert np.allclose(post[spec.neighbour_term].sel(region="ISO"), 0.0)
    d = fit.diagnostics
    json.dumps(d)
    for key in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "seconds", "ess_per_second"):
        assert key in d, key
    assert d["chains"] == 2 and d["ess_bulk_min"] > 4 and d["rhat_max"] < 1.3 and d["seconds"] > 0, d


def test_forecasts_are_draw_step_region_paths_of_the_kinds_values(case):
    name, spec, fit, panel = case
    fc = fit.forecast(horizon=3, draws=300, seed=2)
    assert fc.paths.shape == (300, 3, len(panel.regions)) and fc.regions == panel.regions
    assert fit.last_period == panel.periods[-1] == "2021-12" and fc.periods == ["2022-01", "2022-02", "2022-03"]
    empty = panel.regions.index("EMPTY")
    live = np.delete(fc.paths, empty, axis=2)
    assert np.isnan(fc.paths[:, :, empty]).all() and np.all(np.isfinite(live))
    assert np.all((live >= spec.bounds[0]) & (live <= spec.bounds[1]))
    if family(name).kind == "count":
        assert np.all(live == np.round(live))
    q = fc.quantiles(panel.regions[0], [0.05, 0.5, 0.95])
    assert list(q.columns) == ["period", "0.05", "0.5", "0.95"] and np.all(np.diff(q.iloc[:, 1:].values) >= 0)
    with pytest.raises(SpecError, match="no observations"):
        fc.quantiles("EMPTY", [0.5])
    np.testing.assert_array_equal(fit.forecast(horizon=3, draws=300, seed=2).paths, fc.paths)


def test_a_scenario_sets_the_given_steps(case):
    _, spec, fit, panel = case
    region, values = spec.scenario
    r = panel.regions.index(region)
    paths = fit.forecast(horizon=3, draws=200, seed=6, scenario={region: values}).paths
    assert np.all(paths[:, 0, r] == values[0]) and np.all(paths[:, 2, r] == values[2])


def test_save_load_round_trip_gives_identical_forecasts(case, tmp_path):
    name, _, fit, _ = case
    fit.save(tmp_path / "fit.nc")
    back = Fit.load(tmp_path / "fit.nc")
    assert back.spec == fit.spec and back.spec.family == name and back.regions == fit.regions
    assert back.data_hash == fit.data_hash
    np.testing.assert_array_equal(fit.forecast(horizon=3, draws=200, seed=11).paths,
                                  back.forecast(horizon=3, draws=200, seed=11).paths)


def test_bad_input_is_refused(case):
    _, spec, fit, panel = case
    indicator = fit.spec.indicator
    without = Panel.from_arrays([{"id": r, "name": r, "neighbours": []} for r in panel.regions], "2018-01",
                                {"other": np.ones((len(panel.regions), 5))})
    with pytest.raises(SpecError, match=f"no indicator '{indicator}'"):
        spec.make().fit(without, draws=10, tune=10)
    with pytest.raises(SpecError, match="unknown prior 'priors.nonesuch'"):
        spec.make(priors={"nonesuch": {"dist": "Normal", "mu": 0, "sigma": 1}})
    with pytest.raises(SpecError, match="covariate"):
        spec.make(covariates=["nonesuch"]).prepare(panel)
    for horizon in (0, -1):
        with pytest.raises(SpecError, match="horizon must be"):
            fit.forecast(horizon=horizon)
    with pytest.raises(SpecError, match="unknown region 'XYZ'"):
        fit.forecast(horizon=1, scenario={"XYZ": [1]})
    with pytest.raises(SpecError, match="neighbour"):
        fit.spillover(panel.regions[0], "ISO", threshold=0.5)
    with pytest.raises(SpecError):
        fit.spillover("EMPTY", panel.regions[2], threshold=0.5)

"""Pure parts: spec identity, priors, design (gaps), gate, Forecast summaries and I/O."""

import math

import numpy as np
import pytest

from models import Forecast, GateResult, ModelSpec, SpecError, gate
from models.fitting.design import build_count_design, neighbour_mean, rolling_level
from models.fitting.priors import default_priors, merge_priors


class TestSpec:
    def test_json_round_trip_and_stable_id(self):
        spec = ModelSpec(family="count", indicator="attacks", covariates=("share",), form="linear")
        again = ModelSpec.from_dict(spec.to_dict())
        assert again == spec and again.spec_id == spec.spec_id and len(spec.spec_id) == 16

    def test_id_changes_with_content(self):
        a = ModelSpec(family="count", indicator="attacks")
        assert a.spec_id != ModelSpec(family="count", indicator="attacks", spillover=False).spec_id

    @pytest.mark.parametrize("kwargs, match", [
        ({"family": "poisson", "indicator": "x"}, "unknown model family"),
        ({"family": "count", "indicator": "x", "normalise": "row"}, "normalise"),
        ({"family": "count", "indicator": "x", "covariates": ("x",)}, "own covariate"),
    ])
    def test_bad_specs(self, kwargs, match):
        with pytest.raises(SpecError, match=match):
            ModelSpec(**kwargs)


def test_count_model_options_are_checked_and_part_of_the_identity():
    from models import CountModel

    with pytest.raises(SpecError, match="persistence"):
        CountModel("attacks", persistence="explosive")
    assert CountModel("attacks", persistence="unit").spec.spec_id != CountModel("attacks").spec.spec_id
    assert CountModel("attacks", pool_weight=0.3).spec.spec_id != CountModel("attacks").spec.spec_id
    assert CountModel("attacks", form="linear").spec.options.get("pool_weight") is None
    for bad in ({"pool_weight": 1.0}, {"pool_weight": -0.1}, {"ceiling_factor": 0.5}, {"own_lag_months": 0}):
        with pytest.raises(SpecError, match=next(iter(bad))):
            CountModel("attacks", **bad)


def test_prior_override_names_the_bad_path():
    base = default_priors("count", "linear")
    merged = merge_priors(base, {"logit_lam": {"centred": True}})
    assert merged["logit_lam"]["centred"] is True and base["logit_lam"].get("centred") is None
    with pytest.raises(SpecError, match="priors.lam"):
        merge_priors(base, {"lam": {"dist": "Normal"}})
    with pytest.raises(SpecError, match="priors.a.where"):
        merge_priors(base, {"a": {"where": 1}})


def test_a_centred_auto_override_of_the_persistence_is_built_not_ignored():
    """{"logit_rho": {"centred": "auto"}} must reach the model: one `logit_rho_raw` vector, no `logit_rho_z`."""
    from indicators import simulate_count_panel
    from models import CountModel

    panel, _ = simulate_count_panel(4, 30, seed=1, graph="ring", indicator="attacks")
    names = {}
    for label, priors in (("default", {}), ("auto", {"logit_rho": {"centred": "auto"}})):
        model = CountModel("attacks", priors=priors)
        design, state, _ = model.prepare(panel)
        names[label] = {v.name for v in model.build(model.data_arrays(design, state), list(panel.regions)).free_RVs}
    assert "logit_rho_z" in names["default"] and "logit_rho_raw" not in names["default"]
    assert "logit_rho_raw" in names["auto"] and "logit_rho_z" not in names["auto"]


class TestDesign:
    def test_gap_cells_are_skipped_and_neighbour_mean_uses_observed(self):
        values = np.array([[1.0, 2.0, np.nan, 4.0, 5.0], [10.0, np.nan, 30.0, 40.0, 50.0]])
        w = np.array([[0.0, 1.0], [1.0, 0.0]])
        d = build_count_design(values, w, [], spillover=True)
        cells = set(zip(d.region_idx.tolist(), d.period_idx.tolist()))
        # region 0: t=1 (lag 1, ne 10), t=4 (lag 4, ne 40); t=2 missing, t=3 lag missing
        # region 1: t=3 needs lag t=2 (30) and ne at t=2 (missing -> cell dropped); t=4 ok
        assert cells == {(0, 1), (0, 4), (1, 4)}
        assert not np.any(np.isnan(d.y)) and not np.any(d.y_lag == 0)
        assert neighbour_mean(values, w)[0, 1] != neighbour_mean(values, w)[0, 1]  # NaN, not 0

    def test_rolling_level_is_mean_of_last_12_observed(self):
        values = np.array([np.arange(20, dtype=float)])
        values[0, 5] = np.nan
        level = rolling_level(values)
        obs = [v for v in range(20) if v != 5]
        assert level[0, 19] == pytest.approx(np.mean(obs[-12:]))
        assert level[0, 5] == level[0, 4]


class TestGate:
    def test_passes_when_all_thresholds_met(self):
        result = gate({"rhat_max": 1.005, "ess_bulk_min": 500, "divergences": 0})
        assert result == GateResult(True, [])

    def test_lists_every_reason(self):
        result = gate({"rhat_max": 1.03, "ess_bulk_min": 120.0, "divergences": 3})
        assert not result.passed and len(result.reasons) == 3
        assert "rhat_max 1.0300 > 1.01" in result.reasons[0]

    def test_nan_never_passes(self):
        assert not gate({"rhat_max": math.nan, "ess_bulk_min": 1000, "divergences": 0}).passed

    def test_thresholds_are_configurable(self):
        assert gate({"rhat_max": 1.03, "ess_bulk_min": 120, "divergences": 1}, max_rhat=1.05, min_ess_bulk=100,
                    max_divergences=1).passed


class TestForecast:
    def make(self):
        paths = np.arange(2 * 3 * 2 * 50, dtype=float).reshape(100, 3, 2) % 7
        return Forecast(paths, ["2020-01", "2020-02", "2020-03"], ["A", "B"], indicator="x", meta={"seed": 1})

    def test_quantiles_one_row_per_step(self):
        q = self.make().quantiles("A", [0.05, 0.5, 0.95])
        assert list(q.columns) == ["period", "0.05", "0.5", "0.95"] and len(q) == 3

    def test_probability_within_and_per_step(self):
        fc = self.make()
        p = fc.probability("A", threshold=6)
        direct = (fc.paths[:, :, 0] >= 6).any(axis=1).mean()
        assert p["probability"] == pytest.approx(direct)
        lo, hi = p["interval"]
        assert lo <= p["probability"] <= hi
        per = fc.probability("A", threshold=6, within=False)
        assert len(per["probability"]) == 3

    def test_save_load_exact(self, tmp_path):
        fc = self.make()
        fc.save(tmp_path / "f.npz")
        back = Forecast.load(tmp_path / "f.npz")
        np.testing.assert_array_equal(back.paths, fc.paths)
        assert back.periods == fc.periods and back.regions == fc.regions and back.meta == fc.meta

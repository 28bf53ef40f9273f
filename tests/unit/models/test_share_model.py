"""Share model: its own errors, a tiny real fit with exact 0s and 1s, common random numbers under a cut,
clipped scenarios (what every family does -- shapes, gaps, diagnostics, save/load, common errors -- is
test_family_contract.py). Two real nutpie fits of one compiled model (9 regions, tests/family_panels.py)."""

import numpy as np
import pytest
from scipy import special

from indicators import Panel
from models import Fit, SpecError
from models.questions.simulation import draw_randomness
from models.share import ShareModel
from models.share.simulate import simulate_share
from tests.family_panels import N_MONTHS
from tests.family_panels import SHARE_REGIONS as REGIONS
from tests.family_panels import make_share_panel as make_panel  # by this name for bench/mixing.py


@pytest.fixture(scope="module")
def panel(share_panel) -> Panel:
    return share_panel


@pytest.fixture(scope="module")
def no_spill_fit() -> Fit:
    """The same model (and compiled graph) on a panel whose truth has no neighbour effect at all."""
    panel = make_panel(spillover=False, seed=8)
    return ShareModel("militia_share").fit(panel, draws=150, tune=200, chains=2, seed=1)


class TestFit:
    def test_exact_zeros_and_ones_are_censored_not_crashed_on(self, share_fit, panel):
        values = panel.values("militia_share")
        assert (values == 0).sum() > N_MONTHS and (values == 1).sum() > 0  # ZERO plus the generator's extremes
        assert share_fit.info["n_censored_low"] >= N_MONTHS - 1 and share_fit.info["n_censored_high"] > 0
        post = share_fit.posterior["posterior"]
        assert all(np.all(np.isfinite(post[name].values)) for name in ("a", "rho", "psi", "sigma"))
        assert 0 < post["rho"].min() and post["rho"].max() < 1 and post["sigma"].min() > 0
        assert share_fit.diagnostics["rhat_max"] < 1.2, share_fit.diagnostics  # 2 x 150 draws: hyper-scales mix slowest

    def test_logit_values_put_censored_cells_on_the_bounds(self):
        model = ShareModel("militia_share", floor=0.02)
        z = model.logit_values(np.array([0.0, 0.01, 0.5, 0.99, 1.0, np.nan]))
        lo, hi = special.logit(0.02), special.logit(0.98)
        np.testing.assert_allclose(z[:5], [lo, lo, 0.0, hi, hi])
        assert np.isnan(z[5])


class TestForecast:
    def test_an_all_zero_region_is_forecast_mostly_at_exactly_zero(self, share_fit):
        paths = share_fit.forecast(horizon=3, draws=400, seed=4).region_paths("ZERO")
        assert (paths == 0).mean() > 0.9

    def test_scenario_leaves_unset_steps_simulated_and_scale_is_clipped(self, share_fit):
        fc = share_fit.forecast(horizon=3, draws=200, seed=5, scenario={"R02": [0.9, None, 0.0]})
        assert not np.all(fc.paths[:, 1, 1] == fc.paths[0, 1, 1])
        scaled = share_fit.forecast(horizon=3, draws=200, seed=5, scenario={"R05": {"scale": 50.0}})
        assert scaled.paths[:, :, 4].max() == 1.0 and np.all(scaled.paths[:, :, 4] >= 0)


class TestCommonRandomNumbers:
    def test_cut_with_psi_zero_gives_identical_paths(self, share_fit):
        samples = dict(share_fit.samples())
        samples["psi"] = samples["psi"].copy()
        samples["psi"][:, 2] = 0.0  # R03 takes nothing from its neighbours
        idx, u = draw_randomness(samples["a"].shape[0], 200, 4, len(REGIONS), seed=3)
        uncut = simulate_share(share_fit.spec, samples, share_fit.state, idx=idx, uniforms=u)
        cut = simulate_share(share_fit.spec, samples, share_fit.state, idx=idx, uniforms=u, cut=(3, 2))
        assert 0.05 < np.median(uncut[:, :, 2]) < 0.95
        np.testing.assert_array_equal(uncut, cut)

    def test_cut_changes_only_the_target_at_step_one(self, share_fit):
        uncut = share_fit.forecast(horizon=3, draws=300, seed=6).paths
        cut = share_fit.forecast(horizon=3, draws=300, seed=6, cut=("R04", "R03")).paths
        others = [i for i in range(len(REGIONS)) if i != 2]
        np.testing.assert_array_equal(uncut[:, 0, others], cut[:, 0, others])
        assert np.mean(uncut[:, 0, 2] != cut[:, 0, 2]) > 0.5

    def test_cut_changes_little_where_the_truth_has_no_spillover(self, no_spill_fit):
        # R04 is the ring's one mid-level region in this panel (mean share ~0.18): the others sit near 0 or 1
        answer = no_spill_fit.spillover("R03", "R04", threshold=0.3, horizon=6, draws=1000, seed=1).to_dict()
        uncut = no_spill_fit.forecast(horizon=6, draws=1000, seed=1).region_paths("R04")
        cut = no_spill_fit.forecast(horizon=6, draws=1000, seed=1, cut=("R03", "R04")).region_paths("R04")
        print(answer, np.abs(uncut - cut).mean())
        assert np.abs(uncut - cut).mean() < 0.03
        assert abs(answer["attributable"]) < 0.1


class TestErrors:
    def test_values_outside_the_unit_interval_name_the_cell(self):
        values = make_panel().values("militia_share").copy()
        values[3, 7] = 1.5
        bad = Panel.from_arrays(REGIONS, "2018-01", {"militia_share": values})
        with pytest.raises(SpecError, match=r"values must lie in \[0, 1\].*'R04' period 2018-08 has 1.5"):
            ShareModel("militia_share").prepare(bad)

    def test_count_indicator_is_refused(self, panel):
        counts = Panel.from_arrays(REGIONS, "2018-01", {"attacks": np.full((len(REGIONS), 5), 3.0)})
        with pytest.raises(SpecError, match="not a share indicator"):
            ShareModel("attacks").prepare(counts)

    @pytest.mark.parametrize("floor", [0.0, 0.5, -1, "x"])
    def test_bad_floor(self, floor):
        with pytest.raises(SpecError, match="floor must"):
            ShareModel("militia_share", floor=floor)

    def test_scenario_share_above_one(self, share_fit):
        with pytest.raises(SpecError, match="above 1"):
            share_fit.forecast(horizon=2, scenario={"R02": [1.2, 0.5]})


def test_covariates_enter_lagged_and_standardised(panel):
    model = ShareModel("militia_share", covariates=["attacks"])
    design, state, info = model.prepare(panel)
    data = model.data_arrays(design, state)
    assert data["x"].shape == (design.y.size, 1) and state["x_last"].shape == (len(REGIONS), 1)
    assert info["covariate_transforms"][0]["name"] == "attacks"

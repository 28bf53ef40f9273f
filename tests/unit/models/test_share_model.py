"""Share model: errors, a tiny real fit with exact 0s and 1s, forecasts in [0, 1], common random
numbers under a cut, scenarios, save/load. Two real nutpie fits of one compiled model (9 regions)."""

import numpy as np
import pytest
from scipy import special

from indicators import Panel, simulate_share_panel
from models import Fit, SpecError
from models.forecasting import draw_randomness
from models.share import ShareModel
from models.share.priors import SHARE_PRIORS
from models.share.simulate import simulate_share

N_MONTHS = 48
RING = [f"R{i:02d}" for i in range(1, 7)]
REGIONS = [
    *({"id": r, "name": r, "neighbours": [RING[i - 1], RING[(i + 1) % 6]] + (["ZERO"] if r == "R01" else [])
       + (["EMPTY"] if r == "R03" else [])} for i, r in enumerate(RING)),
    {"id": "ZERO", "name": "never any militia", "neighbours": ["R01"]},
    {"id": "ISO", "name": "island", "neighbours": []},
    {"id": "EMPTY", "name": "no data", "neighbours": ["R03"]},
]
GAP = ("R02", 20)


def make_panel(spillover: bool = True, seed: int = 3) -> Panel:
    """Return 9 regions x 48 months: a generator ring of 6 (with exact 0s and 1s), a gap in R02, an
    all-zero region ZERO, an island ISO and a region EMPTY without data."""
    ring, _ = simulate_share_panel(6, N_MONTHS, seed=seed, graph="ring", spillover=spillover)
    island, _ = simulate_share_panel(3, N_MONTHS, seed=seed + 1, graph="ring", spillover=False)
    values = np.full((len(REGIONS), N_MONTHS), np.nan)
    values[:6] = ring.values("militia_share")
    values[6] = 0.0
    values[7] = island.values("militia_share")[1]  # the generator pushes the other two to exact 0 and 1
    values[1, GAP[1]] = np.nan
    return Panel.from_arrays(REGIONS, "2018-01", {"militia_share": values, "attacks": np.ones(values.shape)})


@pytest.fixture(scope="module")
def panel() -> Panel:
    return make_panel()


@pytest.fixture(scope="module")
def share_fit(panel) -> Fit:
    return ShareModel("militia_share").fit(panel, draws=150, tune=200, chains=2, seed=1)


@pytest.fixture(scope="module")
def no_spill_fit() -> Fit:
    """The same model (and compiled graph) on a panel whose truth has no neighbour effect at all."""
    return ShareModel("militia_share").fit(make_panel(spillover=False, seed=8), draws=150, tune=200, chains=2, seed=1)


class TestFit:
    def test_exact_zeros_and_ones_are_censored_not_crashed_on(self, share_fit, panel):
        values = panel.values("militia_share")
        assert (values == 0).sum() > N_MONTHS and (values == 1).sum() > 0  # ZERO plus the generator's extremes
        assert share_fit.info["n_censored_low"] >= N_MONTHS - 1 and share_fit.info["n_censored_high"] > 0
        post = share_fit.posterior["posterior"]
        for name in ("a", "rho", "psi", "sigma"):
            assert post[name].dims == ("chain", "draw", "region")
            assert list(post[name]["region"].values) == panel.regions
            assert np.all(np.isfinite(post[name].values))
        assert 0 < post["rho"].min() and post["rho"].max() < 1 and post["sigma"].min() > 0
        assert share_fit.diagnostics["rhat_max"] < 1.2, share_fit.diagnostics  # 2 x 150 draws: hyper-scales mix slowest

    def test_island_has_no_neighbour_term_and_empty_region_is_skipped(self, share_fit):
        assert "ISO" in share_fit.info["no_neighbour_regions"]
        assert np.allclose(share_fit.posterior["posterior"]["psi"].sel(region="ISO"), 0.0)
        assert share_fit.skipped_regions == ["EMPTY"]

    def test_gap_cells_are_left_out(self, share_fit):
        # 7 regions with data x 47 lagged cells, minus R02's missing month and the month after it
        assert share_fit.info["n_obs"] == 8 * (N_MONTHS - 1) - 2

    def test_logit_values_put_censored_cells_on_the_bounds(self):
        model = ShareModel("militia_share", floor=0.02)
        z = model.logit_values(np.array([0.0, 0.01, 0.5, 0.99, 1.0, np.nan]))
        lo, hi = special.logit(0.02), special.logit(0.98)
        np.testing.assert_allclose(z[:5], [lo, lo, 0.0, hi, hi])
        assert np.isnan(z[5])


class TestForecast:
    def test_paths_are_draw_step_region_in_unit_interval(self, share_fit, panel):
        fc = share_fit.forecast(horizon=4, draws=300, seed=2)
        assert fc.paths.shape == (300, 4, len(REGIONS))
        assert fc.periods[0] == "2022-01" and fc.regions == panel.regions
        live = fc.paths[:, :, :8]
        assert np.all((live >= 0) & (live <= 1))
        assert np.isnan(fc.paths[:, :, 8]).all()
        q = fc.quantiles("R01", [0.05, 0.5, 0.95])
        assert list(q.columns) == ["period", "0.05", "0.5", "0.95"]
        assert np.all(np.diff(q.iloc[:, 1:].values, axis=1) >= 0)

    def test_an_all_zero_region_is_forecast_mostly_at_exactly_zero(self, share_fit):
        paths = share_fit.forecast(horizon=3, draws=400, seed=4).region_paths("ZERO")
        assert (paths == 0).mean() > 0.9

    def test_save_load_round_trip_gives_identical_forecasts(self, share_fit, tmp_path):
        path = tmp_path / "share.nc"
        share_fit.save(path)
        back = Fit.load(path)
        assert back.spec == share_fit.spec and back.spec.options == {"floor": 0.01}
        a = share_fit.forecast(horizon=3, draws=200, seed=11).paths
        b = back.forecast(horizon=3, draws=200, seed=11).paths
        np.testing.assert_array_equal(a, b)

    def test_scenario_replaces_the_source_path_and_scale_is_clipped(self, share_fit):
        fc = share_fit.forecast(horizon=3, draws=200, seed=5, scenario={"R02": [0.9, None, 0.0]})
        assert np.all(fc.paths[:, 0, 1] == 0.9) and np.all(fc.paths[:, 2, 1] == 0.0)
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
        answer = no_spill_fit.spillover("R03", "R04", threshold=0.3, horizon=6, draws=1000, seed=1)
        uncut = no_spill_fit.forecast(horizon=6, draws=1000, seed=1).region_paths("R04")
        cut = no_spill_fit.forecast(horizon=6, draws=1000, seed=1, cut=("R03", "R04")).region_paths("R04")
        print(answer, np.abs(uncut - cut).mean())
        assert np.abs(uncut - cut).mean() < 0.03
        assert abs(answer["attributable"]) < 0.1


class TestErrors:
    def test_panel_without_the_indicator(self, panel):
        with pytest.raises(SpecError, match="no indicator 'control'"):
            ShareModel("control").fit(panel, draws=10, tune=10)

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

    def test_unknown_prior_key(self):
        assert "psi" in SHARE_PRIORS
        with pytest.raises(SpecError, match="unknown prior 'priors.lam'"):
            ShareModel("militia_share", priors={"lam": {"dist": "Normal", "mu": 0, "sigma": 1}})

    def test_unknown_covariate(self, panel):
        with pytest.raises(SpecError, match="no covariate indicator 'deaths'"):
            ShareModel("militia_share", covariates=["deaths"]).prepare(panel)

    @pytest.mark.parametrize("horizon", [0, -2])
    def test_horizon_below_one(self, share_fit, horizon):
        with pytest.raises(SpecError, match="horizon must be"):
            share_fit.forecast(horizon=horizon)

    def test_spillover_into_a_region_without_neighbours(self, share_fit):
        with pytest.raises(SpecError, match="no neighbours"):
            share_fit.spillover("R01", "ISO", threshold=0.5)

    def test_spillover_from_a_region_without_data(self, share_fit):
        with pytest.raises(SpecError, match="no observations"):
            share_fit.spillover("EMPTY", "R03", threshold=0.5)

    def test_scenario_share_above_one(self, share_fit):
        with pytest.raises(SpecError, match="above 1"):
            share_fit.forecast(horizon=2, scenario={"R02": [1.2, 0.5]})


def test_covariates_enter_lagged_and_standardised(panel):
    model = ShareModel("militia_share", covariates=["attacks"])
    design, state, info = model.prepare(panel)
    data = model.data_arrays(design, state)
    assert data["x"].shape == (design.y.size, 1) and state["x_last"].shape == (len(REGIONS), 1)
    assert info["covariate_transforms"][0]["name"] == "attacks"

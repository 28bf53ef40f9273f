"""Amount model: errors, one tiny real fit (dims, gaps, skipped regions), hurdle simulation, CRN, save/load."""

import json

import numpy as np
import pytest

from indicators import Panel, simulate_amount_panel
from models import Fit, SpecError
from models.amount import AmountModel
from models.amount.simulate import hurdle_inverse_cdf, simulate_amount
from models.forecasting import draw_randomness
from models.spec import ModelSpec

N_MONTHS = 48
REGIONS = [
    {"id": "R1", "name": "R1", "neighbours": ["R2", "R4"]},
    {"id": "R2", "name": "R2", "neighbours": ["R1", "R3"]},
    {"id": "R3", "name": "R3", "neighbours": ["R2", "R4", "EMPTY"]},
    {"id": "R4", "name": "R4", "neighbours": ["R3", "R1"]},
    {"id": "ISO", "name": "island", "neighbours": []},
    {"id": "EMPTY", "name": "no data", "neighbours": ["R3"]},
]
GAP = ("R2", 20)  # R2's month 20 is missing: months 20 and 21 of R2 cannot enter the likelihood
SPEC = ModelSpec(family="amount", indicator="kg", form="hurdle")


def make_panel(values_edit=None) -> Panel:
    """Return 6 regions x 48 months of hurdle amounts: a gap in R2, an island ISO and a region EMPTY with no data."""
    sim, _ = simulate_amount_panel(4, N_MONTHS, seed=3, graph="ring")
    values = np.full((6, N_MONTHS), np.nan)
    values[:4] = sim.values("seizures_kg")
    rng = np.random.default_rng(5)
    values[4] = np.where(rng.random(N_MONTHS) < 0.5, np.exp(rng.normal(1.0, 0.5, N_MONTHS)), 0.0)
    values[1, GAP[1]] = np.nan
    if values_edit:
        values_edit(values)
    return Panel.from_arrays(REGIONS, "2018-01", {"kg": values, "other": np.ones((6, N_MONTHS))})


@pytest.fixture(scope="module")
def panel() -> Panel:
    return make_panel()


@pytest.fixture(scope="module")
def fit(panel) -> Fit:
    """A real nutpie fit (2 chains x 200 draws) of the default amount model."""
    return AmountModel(indicator="kg", covariates=[], spillover=True, normalise="target").fit(
        panel, draws=200, tune=200, chains=2, seed=1, sampler="nutpie")


@pytest.fixture(scope="module")
def static_fit(panel) -> Fit:
    """A real fit without dynamics (no own-lag, no neighbour terms): P(any) is p_any at every step."""
    return AmountModel("kg", spillover=False, persistence=False).fit(panel, draws=150, tune=150, chains=2, seed=2)


def constant_params(p_any, log_mu, log_sigma, n_samples=20, **extra) -> dict:
    n = len(p_any)
    out = {"logit_p": np.tile(np.log(np.asarray(p_any) / (1 - np.asarray(p_any))), (n_samples, 1)),
           "log_mu": np.tile(log_mu, (n_samples, 1)), "log_sigma": np.tile(log_sigma, (n_samples, 1))}
    out.update({k: np.tile(v, (n_samples, 1)) for k, v in extra.items()})
    for k in ("own_any", "own_amount", "ne_any", "ne_amount"):
        out.setdefault(k, np.zeros((n_samples, n)))
    return out


def two_region_state(last=(5.0, 0.0)) -> dict:
    return {"weights": np.array([[0.0, 1.0], [1.0, 0.0]]), "alive": np.array([True, True]),
            "has_ne": np.array([True, True]), "window": np.array([[last[0]], [last[1]]]),
            "x_last": np.zeros((2, 0)), "c_any": np.array([0.5, 0.5]), "c_own": np.array([1.0, 1.0]),
            "c_ne": np.array([1.0, 1.0])}


class TestErrors:
    def test_panel_without_indicator(self, panel):
        with pytest.raises(SpecError, match="no indicator 'cocaine'"):
            AmountModel("cocaine").fit(panel, draws=10, tune=10)

    def test_negative_amounts_are_refused(self):
        bad = make_panel(lambda v: v.__setitem__((0, 5), -2.0))
        with pytest.raises(SpecError, match="non-negative"):
            AmountModel("kg").fit(bad, draws=10, tune=10)

    def test_all_zero_amounts_are_refused(self):
        zeros = make_panel(lambda v: v.__setitem__(np.s_[:5], 0.0))
        with pytest.raises(SpecError, match="no positive amount"):
            AmountModel("kg").fit(zeros, draws=10, tune=10)

    def test_unknown_covariate_and_prior(self, panel):
        with pytest.raises(SpecError, match="no covariate indicator 'militia'"):
            AmountModel("kg", covariates=["militia"]).fit(panel, draws=10, tune=10)
        with pytest.raises(SpecError, match="unknown prior 'priors.phi'"):
            AmountModel("kg", priors={"phi": {"loc": {"dist": "Normal", "mu": 0, "sigma": 1}}})
        with pytest.raises(SpecError, match="persistence"):
            AmountModel("kg", persistence="yes")

    @pytest.mark.parametrize("horizon", [0, -3])
    def test_horizon_below_one(self, fit, horizon):
        with pytest.raises(SpecError, match="horizon must be"):
            fit.forecast(horizon=horizon)

    def test_spillover_into_region_without_neighbours(self, fit):
        with pytest.raises(SpecError, match="no neighbours"):
            fit.spillover("R1", "ISO", threshold=5.0)

    def test_spillover_needs_the_neighbour_terms(self, static_fit):
        names = list(static_fit.posterior["posterior"].data_vars)
        assert not any(name.startswith(("ne_", "own_")) for name in names), names
        with pytest.raises(SpecError, match="spillover=False"):
            static_fit.spillover("R1", "R2", threshold=5.0)


class TestFit:
    def test_posterior_has_region_dims_and_no_observation_arrays(self, fit, panel):
        post = fit.posterior["posterior"]
        for name in ("p_any", "log_mu", "log_sigma", "own_any", "own_amount", "ne_any", "ne_amount"):
            assert post[name].dims == ("chain", "draw", "region"), name
            assert list(post[name]["region"].values) == panel.regions
        assert post["p_any"].shape == (2, 200, 6)
        assert not any(d in post[v].dims for v in post.data_vars for d in ("obs", "pos"))
        assert np.all((post["p_any"] > 0) & (post["p_any"] < 1)) and np.all(post["log_sigma"] > 0)

    def test_gap_cells_are_left_out_and_empty_region_skipped(self, fit):
        assert fit.skipped_regions == ["EMPTY"]
        assert fit.info["n_obs"] == 5 * (N_MONTHS - 1) - 2
        assert "ISO" in fit.info["no_neighbour_regions"]
        assert np.allclose(fit.posterior["posterior"]["ne_any"].sel(region="ISO"), 0.0)

    def test_diagnostics_are_json_and_sampler_mixed(self, fit):
        """Mixed, not converged: at 2 x 200 draws the worst parameter's bulk ESS and R-hat are a draw from a wide
        distribution. CPU load does not change the draws (nutpie seeds each chain; time never enters), but the seed
        alone does not fix them either: seed 1 gives bulk ESS 18.2, R-hat 1.098 (the value `make test` once failed
        on) with an empty (cold) PyTensor compile cache and 41.5, R-hat 1.067 with a warm one, each reproducibly
        (STACK notes: cold and warm caches give different draws); a compiled model reused in the process repeats
        the draws exactly. Which one a run gets depends on the machine's cache, not on the test.
        So the limits sit below what `python -m bench.mixing` measured over 16 seeds (bulk ESS min: lowest 8.4,
        10% 17.9, median 38.7; R-hat max: median 1.057, highest 1.206; the old limits 20 and 1.1 failed 3 and 3
        seeds of 16), with margin, and still fail a stuck or diverged chain (ESS about 1-2, R-hat far above 1.3)."""
        d = fit.diagnostics
        json.dumps(d)
        assert d["ess_bulk_min"] > 4 and d["rhat_max"] < 1.3 and d["seconds"] > 0, d

    def test_intercepts_land_near_the_data(self, fit, panel):
        values = panel.values("kg")
        share_positive = np.nanmean(values[:4] > 0, axis=1)
        p_any = fit.posterior["posterior"]["p_any"].mean(("chain", "draw")).values[:4]
        assert np.all(np.abs(p_any - share_positive) < 0.12), (p_any, share_positive)


class TestForecast:
    def test_paths_are_non_negative_with_zeros_and_nan_for_the_empty_region(self, fit, panel):
        fc = fit.forecast(horizon=4, draws=400, seed=2)
        assert fc.paths.shape == (400, 4, 6)
        assert fc.periods == ["2022-01", "2022-02", "2022-03", "2022-04"]
        known = fc.paths[:, :, :5]
        assert np.all(np.isfinite(known)) and np.all(known >= 0)
        assert np.isnan(fc.paths[:, :, 5]).all()
        assert (known == 0).any() and (known > 0).any()
        assert np.any(known != np.round(known))  # amounts are reals, not counts

    def test_zero_share_of_paths_matches_one_minus_p(self, static_fit):
        fc = static_fit.forecast(horizon=3, draws=4000, seed=5)
        p_any = static_fit.posterior["posterior"]["p_any"].mean(("chain", "draw")).values
        zeros = (fc.paths[:, :, :5] == 0).mean(axis=(0, 1))
        np.testing.assert_allclose(zeros, 1 - p_any[:5], atol=0.02)

    def test_save_load_round_trip_gives_identical_forecasts(self, fit, tmp_path):
        path = tmp_path / "amount.nc"
        fit.save(path)
        back = Fit.load(path)
        assert back.spec == fit.spec and back.spec.family == "amount" and back.regions == fit.regions
        np.testing.assert_array_equal(fit.forecast(horizon=3, draws=300, seed=9).paths,
                                      back.forecast(horizon=3, draws=300, seed=9).paths)

    def test_cut_changes_only_the_target_at_step_one_in_the_direction_of_its_coefficients(self, fit):
        draws, seed = 2000, 4
        uncut = fit.forecast(horizon=6, draws=draws, seed=seed).paths
        cut = fit.forecast(horizon=6, draws=draws, seed=seed, cut=("R1", "R2")).paths
        others = [0, 2, 3, 4]
        np.testing.assert_array_equal(uncut[:, 0, others], cut[:, 0, others])
        # cutting R1->R2 lowers R2's neighbour mean, so with the same uniforms a path whose R2
        # coefficients are both positive can only go down at step 1, both negative only up
        samples = fit.samples()
        idx, _ = draw_randomness(samples["p_any"].shape[0], draws, 6, 6, seed)
        ne_any, ne_amount = samples["ne_any"][idx, 1], samples["ne_amount"][idx, 1]
        up, down = (ne_any > 0) & (ne_amount > 0), (ne_any < 0) & (ne_amount < 0)
        assert up.any() or down.any()
        assert np.all(cut[up, 0, 1] <= uncut[up, 0, 1]) and np.all(cut[down, 0, 1] >= uncut[down, 0, 1])
        assert np.any(cut[:, 0, 1] != uncut[:, 0, 1])

    def test_spillover_answer_has_every_key(self, fit):
        answer = fit.spillover("R1", "R2", threshold=5.0, horizon=3, draws=500)
        for key in ("probability", "probability_without_source", "attributable", "attributable_interval",
                    "channel_share", "normalise"):
            assert key in answer
        assert 0 <= answer["probability"] <= 1 and abs(answer["attributable"]) < 0.2, answer

    def test_scenario_values_replace_and_scale_multiplies(self, fit):
        base = fit.forecast(horizon=3, draws=200, seed=6).paths
        fixed = fit.forecast(horizon=3, draws=200, seed=6, scenario={"R1": [50.0, None, 0.0]}).paths
        assert np.all(fixed[:, 0, 0] == 50.0) and np.all(fixed[:, 2, 0] == 0.0)
        np.testing.assert_array_equal(fixed[:, 0, 1:], base[:, 0, 1:])  # step 1 of the others: same numbers
        scaled = fit.forecast(horizon=3, draws=200, seed=6, scenario={"R1": {"scale": 2.0}}).paths
        np.testing.assert_allclose(scaled[:, 0, 0], 2.0 * base[:, 0, 0])


class TestSimulator:
    def test_hurdle_inverse_cdf_gives_zero_share_and_lognormal_moments(self):
        rng = np.random.default_rng(0)
        u = rng.random(200_000)
        y = hurdle_inverse_cdf(u, np.full(u.size, 0.3), np.full(u.size, 2.0), np.full(u.size, 0.5))
        assert abs((y == 0).mean() - 0.7) < 0.005
        logs = np.log(y[y > 0])
        assert abs(logs.mean() - 2.0) < 0.01 and abs(logs.std() - 0.5) < 0.01

    def test_zero_fraction_of_simulated_paths_is_one_minus_p(self):
        params = constant_params([0.2, 0.75], [1.0, 3.0], [0.5, 0.9])
        idx, u = draw_randomness(20, 20_000, 3, 2, seed=1)
        paths = simulate_amount(SPEC, params, two_region_state(), idx=idx, uniforms=u)
        assert paths.shape == (20_000, 3, 2) and np.all(paths >= 0)
        np.testing.assert_allclose((paths == 0).mean(axis=(0, 1)), [0.8, 0.25], atol=0.01)

    def test_cut_of_a_zero_channel_is_identical_and_of_a_live_one_lowers_the_target(self):
        idx, u = draw_randomness(20, 3000, 4, 2, seed=2)
        quiet = constant_params([0.5, 0.5], [1.0, 1.0], [0.5, 0.5])
        same = [simulate_amount(SPEC, quiet, two_region_state(), idx=idx, uniforms=u, cut=c) for c in (None, (0, 1))]
        np.testing.assert_array_equal(*same)
        live = constant_params([0.5, 0.5], [1.0, 1.0], [0.5, 0.5], ne_any=[0.0, 1.0], ne_amount=[0.0, 0.5])
        uncut = simulate_amount(SPEC, live, two_region_state(), idx=idx, uniforms=u)
        cut = simulate_amount(SPEC, live, two_region_state(), idx=idx, uniforms=u, cut=(0, 1))
        np.testing.assert_array_equal(uncut[:, 0, 0], cut[:, 0, 0])  # the source is untouched at step 1
        assert cut[:, :, 1].mean() < uncut[:, :, 1].mean()
        assert np.all(cut[:, 0, 1] <= uncut[:, 0, 1])  # same uniforms, lower p and location: never higher


class TestCovariates:
    def test_covariates_enter_both_parts_with_a_covariate_dim(self, panel):
        values = panel.values("kg")
        militia = np.where(np.isnan(values), 0.3, np.linspace(0.1, 0.9, values.shape[1])[None, :])
        with_cov = Panel.from_arrays(REGIONS, "2018-01", {"kg": values, "militia": militia})
        model = AmountModel("kg", covariates=["militia"])
        design, state, info = model.prepare(with_cov)
        data = model.data_arrays(design, state)
        assert data["x"].shape == (info["n_obs"], 1) and state["x_last"].shape == (6, 1)
        pm_model = model.build(data, with_cov.regions)
        assert pm_model.named_vars_to_dims["beta_any"] == ("covariate",)
        assert pm_model.named_vars_to_dims["beta_amount"] == ("covariate",)
        assert np.isfinite(pm_model.compile_logp()(pm_model.initial_point()))

    def test_simulated_covariate_effect_moves_probability_and_amount(self):
        params = constant_params([0.5, 0.5], [1.0, 1.0], [0.5, 0.5])
        params.update(beta_any=np.ones((20, 1)), beta_amount=np.full((20, 1), 0.5))
        state = {**two_region_state(), "x_last": np.array([[1.0], [-1.0]])}
        idx, u = draw_randomness(20, 20_000, 1, 2, seed=3)
        paths = simulate_amount(SPEC, params, state, idx=idx, uniforms=u)[:, 0, :]
        zeros = (paths == 0).mean(axis=0)
        np.testing.assert_allclose(zeros, [1 - 1 / (1 + np.exp(-1)), 1 - 1 / (1 + np.exp(1))], atol=0.01)
        medians = [np.median(np.log(paths[paths[:, r] > 0, r])) for r in (0, 1)]
        np.testing.assert_allclose(medians, [1.5, 0.5], atol=0.03)

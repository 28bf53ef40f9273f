"""Amount model: its own errors, what a tiny real fit says of the data, hurdle simulation, CRN, covariates (what
every family does -- shapes, gaps, diagnostics, save/load, common errors -- is test_family_contract.py)."""

import numpy as np
import pytest

from indicators import Panel
from models import Fit, SpecError
from models.amount import AmountModel
from models.amount.simulate import hurdle_inverse_cdf, simulate_amount
from models.core.spec import ModelSpec
from models.questions.simulation import draw_randomness
from tests.family_panels import AMOUNT_REGIONS as REGIONS
from tests.family_panels import make_amount_panel as make_panel  # by this name for bench/mixing.py

SPEC = ModelSpec(family="amount", indicator="kg", form="hurdle")


@pytest.fixture(scope="module")
def panel(amount_panel) -> Panel:
    return amount_panel


@pytest.fixture(scope="module")
def fit(amount_fit) -> Fit:
    """The session's real nutpie fit (2 chains x 200 draws) of the default amount model (conftest)."""
    return amount_fit


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
    def test_negative_amounts_are_refused(self):
        bad = make_panel(lambda v: v.__setitem__((0, 5), -2.0))
        with pytest.raises(SpecError, match="non-negative"):
            AmountModel("kg").fit(bad, draws=10, tune=10)

    def test_all_zero_amounts_are_refused(self):
        zeros = make_panel(lambda v: v.__setitem__(np.s_[:5], 0.0))
        with pytest.raises(SpecError, match="no positive amount"):
            AmountModel("kg").fit(zeros, draws=10, tune=10)

    def test_persistence_must_be_a_bool(self):
        with pytest.raises(SpecError, match="persistence"):
            AmountModel("kg", persistence="yes")

    def test_spillover_needs_the_neighbour_terms(self, static_fit):
        names = list(static_fit.posterior["posterior"].data_vars)
        assert not any(name.startswith(("ne_", "own_")) for name in names), names
        with pytest.raises(SpecError, match="spillover=False"):
            static_fit.spillover("R1", "R2", threshold=5.0)


class TestFit:
    def test_probabilities_and_scales_are_in_range(self, fit):
        post = fit.posterior["posterior"]
        assert post["p_any"].shape == (2, 200, 6)
        assert np.all((post["p_any"] > 0) & (post["p_any"] < 1)) and np.all(post["log_sigma"] > 0)

    def test_intercepts_land_near_the_data(self, fit, panel):
        values = panel.values("kg")
        share_positive = np.nanmean(values[:4] > 0, axis=1)
        p_any = fit.posterior["posterior"]["p_any"].mean(("chain", "draw")).values[:4]
        assert np.all(np.abs(p_any - share_positive) < 0.12), (p_any, share_positive)


class TestForecast:
    def test_paths_hold_zeros_and_real_amounts(self, fit):
        known = fit.forecast(horizon=4, draws=400, seed=2).paths[:, :, :5]
        assert (known == 0).any() and (known > 0).any()
        assert np.any(known != np.round(known))  # amounts are reals, not counts

    def test_zero_share_of_paths_matches_one_minus_p(self, static_fit):
        fc = static_fit.forecast(horizon=3, draws=4000, seed=5)
        p_any = static_fit.posterior["posterior"]["p_any"].mean(("chain", "draw")).values
        zeros = (fc.paths[:, :, :5] == 0).mean(axis=(0, 1))
        np.testing.assert_allclose(zeros, 1 - p_any[:5], atol=0.02)

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
        answer = fit.spillover("R1", "R2", threshold=5.0, horizon=3, draws=500).to_dict()
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

"""Covariates moved forward by their own fitted model (models.questions.covariates), against holding them at the
last value.

Real fits: a share panel from the generator drives the counts' endemic level through a known beta
(`simulate_count_panel(covariate=..., beta=...)`); a ShareModel is fitted to the share, a linear-form
CountModel with that covariate to the counts.
"""

import numpy as np
import pytest

from indicators import add_months, simulate_count_panel, simulate_share_panel
from models import CountModel, Forecast, ShareModel, SpecError
from models.count.simulate import simulate_count
from models.questions.covariates import MAX_ORIGIN_GAP_MONTHS, CovariatePaths, covariate_paths, derived_seed
from models.questions.simulation import draw_randomness

COVARIATE = "militia_share"
BETA = 1.0
N_REGIONS, N_MONTHS = 8, 96


@pytest.fixture(scope="module")
def panel_and_truth():
    shares, _ = simulate_share_panel(N_REGIONS, N_MONTHS, seed=11, graph="grid")
    return simulate_count_panel(N_REGIONS, N_MONTHS, seed=12, graph="grid",
                                covariate=(COVARIATE, shares.values(COVARIATE)), beta=BETA)


@pytest.fixture(scope="module")
def share_fit(panel_and_truth):
    return ShareModel(COVARIATE).fit(panel_and_truth[0], draws=300, tune=300, chains=2, seed=1)


@pytest.fixture(scope="module")
def count_fit(panel_and_truth):
    return CountModel("attacks", covariates=[COVARIATE], form="linear").fit(
        panel_and_truth[0], draws=300, tune=300, chains=2, seed=1)


@pytest.fixture(scope="module")
def forecasts(count_fit, share_fit):
    held = count_fit.forecast(horizon=6, draws=1000, seed=3)
    modelled = count_fit.forecast(horizon=6, draws=1000, seed=3, covariates={COVARIATE: share_fit})
    return held, modelled


def test_generator_covariate_enters_the_panel_and_truth(panel_and_truth):
    panel, truth = panel_and_truth
    assert panel.has(COVARIATE) and truth.covariate == COVARIATE and truth.beta == BETA
    plain, _ = simulate_count_panel(N_REGIONS, N_MONTHS, seed=12, graph="grid")
    assert not np.array_equal(plain.values("attacks"), panel.values("attacks"))  # beta moved the counts


def test_true_beta_inside_its_90_percent_interval(count_fit):
    beta = count_fit.samples()["beta"][:, 0]
    lo, hi = np.quantile(beta, [0.05, 0.95])
    assert lo <= BETA <= hi, (lo, hi)


def test_modes_and_detail(forecasts, share_fit, count_fit, loglinear_fit):
    held, modelled = forecasts
    assert held.covariates_mode == "held" and held.covariates_detail[COVARIATE] == {"mode": "held"}
    assert modelled.covariates_mode == "modelled"
    detail = modelled.covariates_detail[COVARIATE]
    assert detail["source"] == share_fit.spec_id and detail["origin"] == count_fit.last_period
    assert detail["held_regions"] == []
    assert loglinear_fit.forecast(horizon=2, draws=5).covariates_mode == "none"  # a model without covariates
    with pytest.raises(SpecError, match="has no covariates"):
        loglinear_fit.forecast(horizon=2, draws=5, covariates={COVARIATE: share_fit})


def test_first_step_reads_the_observed_lag_so_it_is_identical(forecasts):
    held, modelled = forecasts
    np.testing.assert_array_equal(held.paths[:, 0], modelled.paths[:, 0])
    assert not np.array_equal(held.paths[:, 1:], modelled.paths[:, 1:])


def test_counts_follow_the_simulated_covariate(forecasts, count_fit):
    """With beta > 0, a path whose covariate is higher at step h-1 has more counts at step h."""
    _, modelled = forecasts
    steps = modelled.covariates.steps
    np.testing.assert_allclose(steps[:, 0, :, 0],
                               np.broadcast_to(count_fit.state["x_last"][:, 0], steps[:, 0, :, 0].shape))
    corr = [np.corrcoef(modelled.paths[:, h, r], steps[:, h, r, 0])[0, 1]
            for h in (3, 4, 5) for r in range(N_REGIONS) if modelled.paths[:, h, r].std() > 0]
    assert np.mean(corr) > 0.05, corr


def test_covariate_paths_are_the_share_models_forecast_standardised(forecasts, share_fit, count_fit):
    _, modelled = forecasts
    own = share_fit.forecast(horizon=5, draws=1000, seed=derived_seed(3, 0))
    transform = count_fit.info["covariate_transforms"][0]
    expected = (own.paths[:, :5] - transform["centre"]) / transform["spread"]
    np.testing.assert_allclose(modelled.covariates.steps[:, 1:, :, 0], expected)


def test_reusing_covariate_paths_reproduces_the_forecast(forecasts, count_fit, tmp_path):
    _, modelled = forecasts
    again = count_fit.forecast(horizon=6, draws=1000, seed=3, covariates=modelled.covariates)
    np.testing.assert_array_equal(again.paths, modelled.paths)
    modelled.save(tmp_path / "f.npz")
    loaded = Forecast.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(loaded.covariates.steps, modelled.covariates.steps)
    assert loaded.covariates_detail == modelled.covariates_detail and loaded.covariates_mode == "modelled"
    shorter = loaded.first_steps(3)
    assert shorter.covariates.steps.shape[1] == 3 and shorter.covariates_mode == "modelled"


def test_spillover_cut_and_uncut_share_the_covariate_paths(count_fit, share_fit):
    region = count_fit.regions[0]
    source = count_fit_neighbour(count_fit, region)
    answer = count_fit.spillover(source, region, threshold=5, horizon=6, draws=500, seed=2,
                                 covariates={COVARIATE: share_fit}).to_dict()
    assert answer["covariates_mode"] == "modelled"
    uncut = count_fit.forecast(horizon=6, draws=500, seed=2, covariates={COVARIATE: share_fit})
    cut = count_fit.forecast(horizon=6, draws=500, seed=2, covariates=uncut.covariates, cut=(source, region))
    target = count_fit.regions.index(region)
    assert answer["probability"] == pytest.approx(float((uncut.paths[:, :, target] >= 5).any(axis=1).mean()))
    assert answer["probability_without_source"] == pytest.approx(
        float((cut.paths[:, :, target] >= 5).any(axis=1).mean()))


def count_fit_neighbour(fit, region: str) -> str:
    """Return a neighbour of `region` in the fit's weights."""
    r = fit.regions.index(region)
    return fit.regions[int(np.flatnonzero(fit.state["weights"][:, r] > 0)[0])]


def test_regions_the_covariate_forecast_lacks_stay_held(count_fit, share_fit):
    full = share_fit.forecast(horizon=4, draws=200, seed=1)
    part = Forecast(full.paths[:, :, :3], full.periods, full.regions[:3], indicator=COVARIATE)
    paths = covariate_paths(count_fit, horizon=4, draws=200, seed=1, sources={COVARIATE: part})
    assert paths.detail[COVARIATE]["held_regions"] == count_fit.regions[3:]
    held_x = count_fit.state["x_last"][3:, 0]
    np.testing.assert_allclose(paths.steps[:, 3, 3:, 0], np.broadcast_to(held_x, (200, N_REGIONS - 3)))
    assert not np.allclose(paths.steps[:, 3, :3, 0], count_fit.state["x_last"][:3, 0])


def test_unusable_sources_are_refused_with_the_reason(count_fit, share_fit, panel_and_truth):
    with pytest.raises(SpecError, match="'attacks' is not a covariate"):
        count_fit.forecast(horizon=3, draws=10, covariates={"attacks": share_fit})
    with pytest.raises(SpecError, match="forecasts 'attacks', not 'militia_share'"):
        count_fit.forecast(horizon=3, draws=10, covariates={COVARIATE: count_fit})
    fc = share_fit.forecast(horizon=3, draws=10, seed=1)
    with pytest.raises(SpecError, match="has 10 paths; 50 are needed"):
        count_fit.forecast(horizon=3, draws=50, covariates={COVARIATE: fc})
    late = Forecast(fc.paths, [add_months(p, 2) for p in fc.periods], fc.regions, indicator=COVARIATE)
    with pytest.raises(SpecError, match="after this fit's last month"):
        count_fit.forecast(horizon=3, draws=10, covariates={COVARIATE: late})
    stale = Forecast(fc.paths, [add_months(p, -MAX_ORIGIN_GAP_MONTHS - 1) for p in fc.periods], fc.regions,
                     indicator=COVARIATE)
    with pytest.raises(SpecError, match="refit it"):
        count_fit.forecast(horizon=3, draws=10, covariates={COVARIATE: stale})
    short = CovariatePaths(np.zeros((10, 2, N_REGIONS, 1)), [COVARIATE])
    with pytest.raises(SpecError, match="10 x 3 were asked"):
        count_fit.forecast(horizon=3, draws=10, covariates=short)


def test_an_earlier_covariate_model_forecasts_across_the_gap(count_fit, share_fit, panel_and_truth):
    """A covariate model ending two months before the fit is simulated over the gap; its months after the fit's end
    are used."""
    panel = panel_and_truth[0]
    earlier = ShareModel(COVARIATE).fit(panel.until(panel.periods[-3]), draws=100, tune=200, chains=1, seed=1)
    fc = count_fit.forecast(horizon=4, draws=200, seed=1, covariates={COVARIATE: earlier})
    assert fc.covariates_detail[COVARIATE]["origin"] == panel.periods[-3]
    own = earlier.forecast(horizon=5, draws=200, seed=derived_seed(1, 0))
    transform = count_fit.info["covariate_transforms"][0]
    np.testing.assert_allclose(fc.covariates.steps[:, 1:, :, 0],
                               (own.paths[:, 2:5] - transform["centre"]) / transform["spread"])


def test_step_means_follow_given_covariate_paths_exactly():
    """Pure simulation: mean = exp(a + beta x_h) when lam = phi = 0 and the NB is nearly Poisson."""
    n = 40_000
    params = {"a": np.full((1, 1), np.log(10.0)), "lam": np.zeros((1, 1)), "phi": np.zeros((1, 1)),
              "alpha": np.full((1, 1), 1e6), "beta": np.full((1, 1), 1.0)}
    state = {"weights": np.zeros((1, 1)), "alive": np.ones(1), "has_ne": np.zeros(1),
             "window": np.full((1, 12), 10.0), "x_last": np.zeros((1, 1))}
    idx, u = draw_randomness(1, n, 3, 1, seed=1)
    steps = np.zeros((n, 3, 1, 1))
    steps[:, 1] = 1.0
    steps[:, 2] = -1.0
    moved = simulate_count("linear", params, state, idx=idx, uniforms=u, covariates=CovariatePaths(steps, ["x"]))
    held = simulate_count("linear", params, state, idx=idx, uniforms=u)
    np.testing.assert_allclose(moved[:, :, 0].mean(axis=0), 10 * np.exp([0.0, 1.0, -1.0]), rtol=0.03)
    np.testing.assert_allclose(held[:, :, 0].mean(axis=0), [10, 10, 10], rtol=0.03)


def test_backtest_forecaster_fits_the_covariate_model_at_the_origin(panel_and_truth):
    """The backtest scores what serving does: the model keeps its covariates, and covariates with a model move."""
    from models.evaluation.backtest import family_model_forecaster

    panel = panel_and_truth[0].until(panel_and_truth[0].periods[-7])
    options = dict(draws=100, tune=150, chains=1, forecast_draws=300, covariates=(COVARIATE,), form="linear")
    held = family_model_forecaster("count", **options)(panel, "attacks", 4, 5)
    moved = family_model_forecaster("count", covariate_families={COVARIATE: "share"}, **options)(panel, "attacks", 4, 5)
    assert held.shape == moved.shape == (300, 4, N_REGIONS)
    np.testing.assert_array_equal(held[:, 0], moved[:, 0])
    assert not np.array_equal(held[:, 1:], moved[:, 1:])
    plain = family_model_forecaster("count", **{k: v for k, v in options.items() if k != "covariates"})(
        panel, "attacks", 4, 5)
    assert not np.array_equal(plain[:, 0], held[:, 0])  # the covariate is in the backtested model

"""Posterior uncertainty vs Monte Carlo error of event probabilities (models.questions.uncertainty, issue 17)."""

import numpy as np
import pytest
from scipy import stats

from models.questions.events import spillover_answer
from models.questions.paths import Forecast
from models.questions.uncertainty import credible_interval, group_means, group_of_paths, predictive

POSTERIOR = stats.beta(20, 30)  # a known posterior of P(event | theta): mean 0.4, 90% interval ~[0.29, 0.51]
PERIODS = ["2030-01"]


def event_forecasts(seed: int, paths: int, draws: int = 200) -> tuple[Forecast, Forecast]:
    """Return (predictive forecast, posterior grid) of a one-step event whose P(event | theta_s) = p_s ~ POSTERIOR:
    a path of draw s reaches 1 when its uniform is below p_s; the grid's draws share their uniforms."""
    rng = np.random.default_rng(seed)
    independent = (rng.random(paths) < POSTERIOR.rvs(size=paths, random_state=rng)).astype(float)
    groups = group_of_paths(paths, paths)  # one posterior draw per path, as a forecast within the posterior's size
    p = POSTERIOR.rvs(size=draws, random_state=rng)
    grid_sets = rng.random(400)
    grid_groups = group_of_paths(draws * 400, draws)
    grid = (grid_sets[np.arange(draws * 400) // draws] < p[grid_groups]).astype(float)
    as_forecast = lambda values, g: Forecast(values[:, None, None], PERIODS, ["A"], indicator="x", groups=g)  # noqa: E731
    return as_forecast(independent, groups), as_forecast(grid, grid_groups)


def test_credible_interval_is_the_posterior_spread_and_monte_carlo_error_shrinks_with_paths():
    small = event_forecasts(seed=1, paths=4_000)
    large = event_forecasts(seed=1, paths=64_000)
    answers = [f.probability("A", 1, grid=g) for f, g in (small, large)]
    truth = POSTERIOR.ppf([0.05, 0.95])
    for answer in answers:
        assert answer["credible_interval"] == answer["interval"]
        assert "credible interval" in answer["interval_method"] and "Monte Carlo" in answer["interval_method"]
        assert answer["probability"] == pytest.approx(POSTERIOR.mean(), abs=0.03)
        np.testing.assert_allclose(answer["credible_interval"], truth, atol=0.04)
    width = [a["credible_interval"][1] - a["credible_interval"][0] for a in answers]
    assert width[1] == pytest.approx(width[0], rel=0.25)  # the posterior does not shrink with more paths...
    ratio = answers[0]["mc_standard_error"] / answers[1]["mc_standard_error"]
    assert 2.5 < ratio < 6.0  # ...the Monte Carlo error does, as 1/sqrt(paths): 16x the paths, ~4x smaller


def test_without_a_grid_the_interval_is_named_monte_carlo():
    forecast, _ = event_forecasts(seed=2, paths=4_000)
    answer = forecast.probability("A", 1)
    assert answer["credible_interval"] is None
    assert answer["interval_method"].startswith("90% Monte Carlo interval")
    lo, hi = answer["interval"]
    assert lo < answer["probability"] < hi and hi - lo < 0.05  # Jeffreys: MC error only, narrow


def test_credible_interval_helpers():
    assert credible_interval(np.full(10, 0.5), 0.5) is None  # too few draws to read quantiles
    lo, hi = credible_interval(np.linspace(0.0, 1.0, 101), 0.9, lo=0.0, hi=1.0)
    assert lo == pytest.approx(0.45) and hi == 1.0  # centred on the predictive value, clipped
    means = group_means(np.array([1.0, 0.0, 1.0, 1.0]), np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(means, [1.0, 0.5])
    value, se = predictive(np.array([1.0, 0.0, 1.0, 1.0]), np.array([0, 1, 0, 1]))
    assert value == 0.75 and se == pytest.approx(0.25)


def test_spillover_on_a_fit_carries_credible_intervals_and_monte_carlo_errors(linear_fit):
    # a threshold the fit is unsure of (its median 6-month high), so every quantity has some Monte Carlo error
    highs = linear_fit.forecast(horizon=6, draws=1000, seed=0).region_paths("R3").max(axis=1)
    ans = linear_fit.spillover("R1", "R3", threshold=float(np.median(highs)), horizon=6, draws=2000, seed=1).to_dict()
    assert ans["posterior_draws"] >= 20 and "credible interval" in ans["interval_method"]
    for name in ("probability", "probability_without_source", "attributable", "channel_share"):
        lo, hi = ans[f"{name}_interval"]
        assert lo - 1e-9 <= ans[name] <= hi + 1e-9, (name, ans)
        assert 0 < ans["mc_standard_error"][name] < 0.05, ans["mc_standard_error"]
    assert 0.0 <= ans["probability_interval"][0] and ans["probability_interval"][1] <= 1.0


def test_a_channel_that_carries_nothing_has_an_attributable_interval_at_zero():
    """Paths of a channel whose cut changes nothing: attributable and its whole credible interval are 0."""
    forecast, grid = event_forecasts(seed=3, paths=4_000)
    answer = spillover_answer(forecast, forecast, source="A", target="A", threshold=1, seed=0, grid=(grid, grid))
    assert answer.attributable == 0 and answer.attributable_interval == [0.0, 0.0]
    assert answer.probability_interval == answer.probability_without_source_interval

"""Rao-Blackwellised event probabilities: paths conditioned on no crossing (issue 17).

The event grid draws the target given that it stays below the threshold and multiplies each step's exact
probability of staying below; these tests check that the conditional draw and its probability are exact
(against plain draws), that the estimate is unbiased on a real fit, and that it is what credible intervals
are read from.
"""

import numpy as np
import pytest

from models.count.simulate import nb_inverse_cdf
from models.count.tails import below_threshold, recent_pool, tail_safe_draw
from models.questions.sources import FitSource

N = 50_000


@pytest.mark.parametrize("ceiling, pool_weight", [(None, 0.0), (450.0, 0.0), (None, 0.3), (450.0, 0.2)])
def test_conditional_draw_and_its_probability_are_exact(ceiling, pool_weight):
    rng = np.random.default_rng(4)
    mu, alpha, threshold = np.full(N, 60.0), np.full(N, 0.8), 101.5  # a heavy NB; reaching 102 is ~15%
    window = np.array([[3.0, 250.0, 40.0, np.nan, 120.0, 7.0]])  # one region's recent months, one missing
    sorted_months, sizes = recent_pool(window)
    pool = (sorted_months, sizes) if pool_weight else None
    draw = lambda u: tail_safe_draw(u[:, None], mu[:, None], alpha[:, None], nb_inverse_cdf,  # noqa: E731
                                    ceiling=None if ceiling is None else np.array([ceiling]), pool=pool,
                                    pool_weight=pool_weight)[:, 0]
    u = rng.random(N)
    plain = draw(u)
    remapped, below = below_threshold(u, mu, alpha, threshold, ceiling=ceiling,
                                      pool=(sorted_months[0], int(sizes[0])) if pool else None,
                                      pool_weight=pool_weight)
    conditioned = draw(np.clip(remapped, 1e-12, 1 - 1e-12))
    stays = plain < threshold
    assert below[0] == pytest.approx(stays.mean(), abs=4 * np.sqrt(0.25 / N))  # the exact probability
    assert conditioned.max() < threshold  # every conditioned draw stays below
    # ...and follows the plain draws' law given that they stay below (quantiles agree)
    qs = [0.1, 0.3, 0.5, 0.7, 0.9, 0.99]
    np.testing.assert_allclose(np.quantile(conditioned, qs), np.quantile(plain[stays], qs), atol=2.0)
    assert np.all(np.diff(remapped[np.argsort(u)]) >= 0)  # monotone in u: common random numbers survive


def test_a_threshold_at_or_below_zero_is_always_reached():
    u = np.linspace(0.01, 0.99, 5)
    _, below = below_threshold(u, np.full(5, 3.0), np.full(5, 2.0), 0)
    assert np.all(below == 0)


def test_event_grid_is_an_unbiased_estimate_of_the_crossing_probability(loglinear_fit):
    """1 - mean(no_crossing) over the conditioned grid equals the share of plain paths that cross."""
    eg_uncut, eg_cut = (FitSource(loglinear_fit, seed=3).event_grid(6, region="R3", threshold=12, cut=cut)
                        for cut in (None, ("R1", "R3")))
    plain = loglinear_fit.forecast(horizon=6, draws=20_000, seed=5)
    crossing = (plain.region_paths("R3") >= 12).any(axis=1).mean()
    assert 0.05 < crossing < 0.95  # a question with something to estimate
    estimate = 1.0 - eg_uncut.no_crossing.mean()
    assert estimate == pytest.approx(crossing, abs=0.025)
    assert (eg_uncut.paths[:, :, eg_uncut.regions.index("R3")] < 12).all()  # the target's paths are conditional
    plain_cut = loglinear_fit.forecast(horizon=6, draws=20_000, seed=5, cut=("R1", "R3"))
    cut_crossing = (plain_cut.region_paths("R3") >= 12).any(axis=1).mean()
    assert 1.0 - eg_cut.no_crossing.mean() == pytest.approx(cut_crossing, abs=0.025)


def test_spillover_reads_its_event_intervals_from_the_conditioned_grid(loglinear_fit):
    ans = loglinear_fit.spillover("R1", "R3", threshold=12, horizon=6, draws=2000, seed=1).to_dict()
    assert "exact crossing probabilities" in ans["interval_method"]
    for name in ("probability", "probability_without_source", "attributable", "channel_share"):
        lo, hi = ans[f"{name}_interval"]
        assert lo - 1e-9 <= ans[name] <= hi + 1e-9 and hi > lo, (name, ans)
    again = loglinear_fit.spillover("R1", "R3", threshold=12, horizon=6, draws=2000, seed=2).to_dict()
    for name in ("probability", "attributable"):  # seed-to-seed: the interval's ends hardly move
        np.testing.assert_allclose(ans[f"{name}_interval"], again[f"{name}_interval"], atol=0.03)


def test_probability_reads_a_conditioned_grid_for_its_own_question_only(loglinear_fit):
    grid = loglinear_fit.forecast(horizon=6, seed=3, grid=True, draws=2000, posterior_draws=100,
                                  condition=("R3", 12))
    plain = loglinear_fit.forecast(horizon=6, draws=2000, seed=1)
    answer = plain.probability("R3", 12, grid=grid)
    assert "exact crossing probabilities" in answer["interval_method"]
    lo, hi = answer["credible_interval"]
    assert lo <= answer["probability"] <= hi
    with pytest.raises(Exception, match="conditioned"):
        plain.probability("R3", 20, grid=grid)

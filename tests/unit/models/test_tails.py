"""Tail-safe draws: the truncated NB under a ceiling, the stacking with the recent months, common random numbers."""

import numpy as np
import pytest
from scipy import stats

from models.count.simulate import nb_inverse_cdf, simulate_count
from models.count.tails import CEILING_FLOOR, ceilings, recent_pool, tail_safe_draw
from models.questions.simulation import draw_randomness


def uniforms(n=200_000, regions=2, seed=0):
    return np.random.default_rng(seed).random((n, regions))


def test_ceiling_is_the_factor_times_the_record_with_a_floor():
    np.testing.assert_array_equal(ceilings(np.array([0.0, 50.0, 9000.0, np.nan]), 5.0),
                                  [5 * CEILING_FLOOR, 5 * CEILING_FLOOR, 45000.0, 5 * CEILING_FLOOR])
    assert ceilings(np.array([1.0]), None) is None


def test_truncated_draws_stay_under_the_ceiling_and_match_the_truncated_nb_mean():
    u = uniforms()
    mu, alpha, cap = np.array([50.0, 5000.0]), np.array([0.3, 0.3]), np.array([1000.0, 1000.0])
    plain = tail_safe_draw(u, mu, alpha, nb_inverse_cdf)
    capped = tail_safe_draw(u, mu, alpha, nb_inverse_cdf, ceiling=cap)
    assert plain[:, 1].max() > 10_000 and capped.max() <= 1000
    assert np.all(capped <= plain)  # same uniform, monotone: truncation only lowers a draw
    for r in range(2):
        p = alpha[r] / (alpha[r] + mu[r])
        k = np.arange(1001)
        pmf = stats.nbinom.pmf(k, alpha[r], p)
        assert capped[:, r].mean() == pytest.approx((k * pmf).sum() / pmf.sum(), rel=0.02)


def test_stacking_draws_the_recent_months_with_the_pool_weight():
    window = np.array([[0, 0, 0, 0, 1, 1, 3, 3, 5, 5, np.nan, np.nan], [np.nan] * 12])
    u = uniforms()
    out = tail_safe_draw(u, np.array([500.0, 500.0]), np.array([500.0, 500.0]), nb_inverse_cdf,
                         pool=recent_pool(window), pool_weight=0.5)
    from_pool = u[:, 0] < 0.5
    values, counts = np.unique(out[from_pool, 0], return_counts=True)
    np.testing.assert_array_equal(values, [0, 1, 3, 5])
    np.testing.assert_allclose(counts / from_pool.sum(), [0.4, 0.2, 0.2, 0.2], atol=0.01)
    assert out[~from_pool, 0].min() > 100  # the model's NB around 500
    assert out[:, 1].min() > 100  # a region with no recent months always draws from the model


def test_a_cut_channel_with_tail_safety_still_differs_only_through_that_channel():
    """Region 2 is isolated and region 0 gets nothing from 1: both identical in cut and uncut runs."""
    n = 40
    state = {
        "weights": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        "alive": np.array([True, True, True]), "has_ne": np.array([True, True, False]),
        "window": np.tile(np.array([[50.0], [80.0], [20.0]]), (1, 12)), "x_last": np.zeros((3, 0)),
        "c_own": np.log1p([50.0, 80.0, 20.0]), "c_level": np.log1p([50.0, 80.0, 20.0]),
        "c_ne": np.log1p([80.0, 50.0, 0.0]), "c_disp": np.array([3.0]), "history_max": np.array([60.0, 90.0, 30.0]),
    }
    params = {"a": np.full((n, 3), 0.3), "lam": np.full((n, 3), 0.5), "kap": np.tile([0.5, 0.2, 0.5], (n, 1)),
              "phi": np.tile([0.0, 0.3, 0.0], (n, 1)), "log_alpha": np.full((n, 3), -1.0),
              "alpha_slope": np.full(n, 0.2)}
    idx, u = draw_randomness(n, 2000, 6, 3, seed=5)
    options = dict(ceiling_factor=2.0, pool_weight=0.3)
    uncut = simulate_count("loglinear", params, state, idx=idx, uniforms=u, **options)
    cut = simulate_count("loglinear", params, state, idx=idx, uniforms=u, cut=(0, 1), **options)
    np.testing.assert_array_equal(cut[:, :, [0, 2]], uncut[:, :, [0, 2]])
    assert np.all(cut[:, :, 1] <= uncut[:, :, 1]) and cut[:, :, 1].mean() < uncut[:, :, 1].mean()
    assert uncut[:, :, 1].max() <= 2 * 100 and uncut[:, :, 0].max() <= 2 * 100  # floor 100, factor 2

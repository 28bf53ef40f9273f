"""The served combination (models.count.mixture): component shares, exact zeros, cuts, no-crossing, learning."""

import numpy as np
import pytest

from models.count import mixture
from models.count.mixture import (
    LEARN_STEPS,
    PathMixture,
    learn_regime_weights,
    level_discount,
    regimes_of,
    region_weights,
    training_origins,
)


def _state(weights, window, futures):
    return {"mix_weights": np.asarray(weights, float), "window": np.asarray(window, float),
            "analogue_futures": np.asarray(futures, float)}


def test_regimes_quiet_low_high():
    window = np.zeros((3, 12))
    window[1, 2] = 4       # violence 10 months ago, quiet since: low
    window[2, -2] = 30     # 30 deaths last-but-one month: high
    assert list(regimes_of(window)) == [0, 1, 2]


def test_component_shares_follow_the_weights_and_quiet_components_give_exact_zeros():
    rng = np.random.default_rng(0)
    window = np.zeros((1, 12))
    futures = np.zeros((1, 50, 6))
    mixture = PathMixture(_state([[0.2, 0.4, 0.3, 0.1]], window, futures), rng.random((20000, 6, 1)))
    shares = np.bincount(mixture.source.ravel(), minlength=4) / mixture.source.size
    assert shares == pytest.approx([0.2, 0.4, 0.3, 0.1], abs=0.015)
    fixed = mixture.source[:, 0] != 0
    assert np.all(mixture.fixed[fixed, :, 0] == 0.0)  # quiet analogues and a quiet year: exactly zero


def test_pool_paths_draw_every_recent_month_alike():
    rng = np.random.default_rng(1)
    window = np.arange(12, dtype=float)[None, :]
    mixture = PathMixture(_state([[0.0, 0.0, 1.0, 0.0]], window, np.full((1, 5, 3), np.nan)), rng.random((24000, 3, 1)))
    first = mixture.fixed[:, 0, 0]
    assert np.bincount(first.astype(int), minlength=12) / first.size == pytest.approx(np.full(12, 1 / 12), abs=0.01)


def test_a_cut_run_takes_the_same_components_and_the_model_paths_only_change():
    rng = np.random.default_rng(2)
    uniforms = rng.random((500, 4, 2))
    state = _state([[0.5, 0.3, 0.1, 0.1], [0.4, 0.4, 0.2, 0.0]], rng.integers(0, 9, (2, 12)),
                   rng.integers(0, 9, (2, 20, 4)))
    one, two = PathMixture(state, uniforms), PathMixture(state, uniforms)
    assert np.array_equal(one.source, two.source)
    model_a, model_b = np.full((500, 2), 7.0), np.full((500, 2), 9.0)  # the model's step values, uncut and cut
    diff = one.apply(model_a, 1) != two.apply(model_b, 1)
    assert np.array_equal(diff, one.source == 0)


def test_model_uniforms_are_uniform_again():
    rng = np.random.default_rng(3)
    uniforms = rng.random((40000, 2, 1))
    mixture = PathMixture(_state([[0.4, 0.3, 0.2, 0.1]], np.ones((1, 12)), np.ones((1, 10, 2))), uniforms)
    u = mixture.first_uniforms(uniforms[:, 0, :])[mixture.source == 0]
    assert np.histogram(u, bins=5, range=(0, 1))[0] / u.size == pytest.approx(np.full(5, 0.2), abs=0.015)


def test_no_crossing_mixes_the_components_exact_probabilities():
    window = np.array([[0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 6]], float)  # 2 of 12 months reach 5; 1 of the last 3
    futures = np.zeros((1, 4, 3))
    futures[0, 0, 1] = 20  # 1 of 4 analogue futures crosses 5
    mixture = PathMixture(_state([[0.4, 0.3, 0.2, 0.1]], window, futures), np.full((10, 3, 1), 0.5))
    model_nc = np.linspace(0, 1, 10)
    got = mixture.no_crossing(0, 5.0, 3, model_nc)
    expected = 0.4 * model_nc + 0.3 * 0.75 + 0.2 * (10 / 12) ** 3 + 0.1 * (2 / 3) ** 3
    assert got == pytest.approx(expected)


def test_recent_paths_draw_only_the_last_three_months():
    rng = np.random.default_rng(6)
    window = np.array([[50] * 9 + [1, 2, 3]], float)
    mixture = PathMixture(_state([[0.0, 0.0, 0.0, 1.0]], window, np.full((1, 5, 3), np.nan)), rng.random((3000, 4, 1)))
    assert set(np.unique(mixture.fixed)) == {1.0, 2.0, 3.0}


def test_region_weights_give_a_missing_component_to_the_model():
    weights = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [0.2, 0.3, 0.3, 0.1, 0.1], [0.1, 0.4, 0.3, 0.1, 0.1]])
    window = np.array([[0] * 11 + [3], [np.nan] * 12], float)
    no_futures = np.full((2, 3, 2), np.nan)
    short = np.array([np.zeros((3, 2)), np.full((3, 2), np.nan)])  # the 4-month analogue has region 0's state
    got = region_weights(weights, window, {"analogue": no_futures, "analogue4": short})
    assert got[0] == pytest.approx([0.5, 0.0, 0.3, 0.1, 0.1])  # low regime, no 6-month analogue
    assert got[1] == pytest.approx([1.0, 0.0, 0.0, 0.0, 0.0])  # nothing observed


def test_the_four_month_analogue_draws_its_own_futures_and_enters_no_crossing():
    window = np.zeros((1, 12))
    state = _state([[0.0, 0.0, 0.0, 0.0, 1.0]], window, np.zeros((1, 4, 3)))
    state["analogue4_futures"] = np.array([[[7.0, 8.0, 9.0]] * 3 + [[30.0, 0.0, 0.0]]])  # 1 of 4 crosses 10
    mixture = PathMixture(state, np.random.default_rng(7).random((4000, 3, 1)))
    assert np.all(mixture.source == 4)
    assert set(np.unique(mixture.fixed[:, 0, 0])) == {7.0, 30.0}
    assert np.mean(mixture.fixed[:, 0, 0] == 30.0) == pytest.approx(0.25, abs=0.03)
    assert mixture.no_crossing(0, 10.0, 3, np.zeros(5)) == pytest.approx(np.full(5, 0.75))


def test_a_version_fitted_with_four_components_mixes_as_before():
    window = np.zeros((1, 12))
    old = PathMixture(_state([[0.4, 0.3, 0.2, 0.1]], window, np.zeros((1, 5, 3))), np.full((2, 3, 1), 0.5))
    assert old.weights.shape == (1, 5) and old.weights[0, 4] == 0.0


def test_learning_prefers_the_component_that_forecast_well():
    rng = np.random.default_rng(4)
    n_regions, n_months = 6, 100
    values = rng.poisson(3.0, (n_regions, n_months)).astype(float)

    def backcasts(good: bool):
        for t in training_origins(n_months):
            centre = values[:, t + 1: t + 1 + LEARN_STEPS].T[None] if good else 40.0
            yield t, np.broadcast_to(centre, (200, LEARN_STEPS, n_regions)) + rng.poisson(0.2, (200, LEARN_STEPS,
                                                                                                n_regions))

    good, cells = learn_regime_weights(backcasts(True), values)
    bad, _ = learn_regime_weights(backcasts(False), values)
    assert cells["low"] > 0
    assert good[1, 0] >= 0.8  # a model path that knew the months takes the weight
    assert bad[1, 0] == 0.0   # one forecasting 40 a month gets none


def test_one_war_does_not_decide_its_regimes_weights_alone(monkeypatch):
    # A war alternating 1,800 / 2,200 a month that only the model forecasts exactly, beside five regions
    # alternating 30 / 60 that the model puts at 45: undiscounted, the war's CRPS (forty times the others')
    # hands the model the high regime; discounted by its level, the five regions count as much as it does.
    n_months = 100
    values = np.full((6, n_months), 30.0)
    values[1:, ::2] = 60.0
    values[0] = 1800.0
    values[0, ::2] = 2200.0
    assert level_discount(values[:, -12:])[0] == pytest.approx((1 + 2000.0) ** -0.5)

    def backcasts():
        for t in training_origins(n_months):
            model = np.full((200, LEARN_STEPS, 6), 45.0)
            model[:, :, 0] = values[0, t + 1: t + 1 + LEARN_STEPS]
            yield t, model

    discounted, _ = learn_regime_weights(backcasts(), values)
    monkeypatch.setattr(mixture, "LEVEL_DISCOUNT", 0.0)
    undiscounted, _ = learn_regime_weights(backcasts(), values)
    assert undiscounted[2, 0] >= 0.6  # the model's weight in the high regime, the war deciding
    assert discounted[2, 0] <= 0.4


def test_training_origins_are_scored_on_months_the_fit_has():
    origins = training_origins(200)
    assert origins and all(t + LEARN_STEPS <= 199 for t in origins)
    assert origins == sorted(origins, reverse=True) and origins[0] == 199 - 12

"""The learned combination: exact mixture CRPS, weights from origins before the forecast origin only."""

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr

from indicators import Panel
from models.evaluation.baselines import bootstrap_forecast, zero_forecast
from models.evaluation.combination import (
    LearnedCombination,
    best_weights,
    mean_abs_difference,
    mix_paths,
    mixture_terms,
)


def test_mean_abs_difference_matches_the_pairwise_mean():
    rng = np.random.default_rng(0)
    x, y = rng.poisson(5, (7, 40)).astype(float), rng.negative_binomial(2, 0.1, (7, 30)).astype(float)
    brute = np.abs(x[:, :, None] - y[:, None, :]).mean(axis=(1, 2))
    np.testing.assert_allclose(mean_abs_difference(x, y), brute)


def test_the_quadratic_form_is_the_crps_of_the_mixture():
    rng = np.random.default_rng(1)
    obs = rng.poisson(10, 25).astype(float)
    a_ens, b_ens = rng.poisson(3, (200, 25)).astype(float), rng.poisson(20, (200, 25)).astype(float)
    a, b = mixture_terms([a_ens, b_ens], obs)
    w = np.array([0.5, 0.5])
    pooled = np.concatenate([a_ens, b_ens])  # equal halves: the 50/50 mixture's ensemble
    expected = sr.crps_ensemble(obs, pooled.T, estimator="nrg").sum()
    assert w @ a - 0.5 * w @ b @ w == pytest.approx(expected, rel=1e-9)
    assert best_weights(a, b, step=0.1).sum() == pytest.approx(1.0)


def test_cell_weights_scale_each_cells_terms():
    rng = np.random.default_rng(5)
    obs = rng.poisson(10, 6).astype(float)
    ens = [rng.poisson(3, (50, 6)).astype(float), rng.poisson(20, (50, 6)).astype(float)]
    weights = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 3.0])
    a, b = mixture_terms(ens, obs, cell_weights=weights)
    per_cell = [mixture_terms([e[:, [c]] for e in ens], obs[[c]]) for c in range(6)]
    np.testing.assert_allclose(a, sum(w * t[0] for w, t in zip(weights, per_cell)))
    np.testing.assert_allclose(b, sum(w * t[1] for w, t in zip(weights, per_cell)))


def _panel(months=120):
    """Region Q is always 0; region W is Poisson(20) every month."""
    rng = np.random.default_rng(2)
    periods = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in range(months)]
    rows = [("Q", "deaths", p, 0.0) for p in periods]
    rows += [("W", "deaths", p, float(v)) for p, v in zip(periods, rng.poisson(20, months))]
    regions = [{"id": "Q", "name": "Q", "neighbours": ["W"]}, {"id": "W", "name": "W", "neighbours": ["Q"]}]
    return Panel.from_frame(pd.DataFrame(rows, columns=["region", "indicator", "period", "value"]), regions=regions)


COMBINED = LearnedCombination((("zero", zero_forecast), ("bootstrap", bootstrap_forecast)), training_origins=4,
                              min_history=24, draws=300)


def test_training_windows_end_at_or_before_the_forecast_origin():
    panel = _panel()
    weights, origins = COMBINED.learn(panel, "deaths", 6, seed=1)
    periods = list(panel.periods)
    assert origins and all(periods.index(o) + 6 <= len(periods) - 1 for o in origins)
    assert weights["active"].tolist() == [0.0, 1.0]  # zero never fits a Poisson(20) region


def test_what_happens_after_the_origin_changes_nothing():
    """A look-ahead would show: the months after the origin are changed wildly, the weights must not move."""
    panel = _panel()
    origin = list(panel.periods)[99]
    cut = panel.until(origin)
    rng = np.random.default_rng(5)
    periods = list(panel.periods)
    rows = []
    for i, p in enumerate(periods):
        w = float(rng.poisson(20)) if i <= 99 else 0.0  # after the origin W falls silent: zero would win
        rows += [("Q", "deaths", p, 0.0), ("W", "deaths", p, w)]
    other = Panel.from_frame(pd.DataFrame(rows, columns=["region", "indicator", "period", "value"]),
                             regions=[{"id": "Q", "name": "Q", "neighbours": ["W"]},
                                      {"id": "W", "name": "W", "neighbours": ["Q"]}])
    w_cut, origins_cut = COMBINED.learn(cut, "deaths", 6, seed=1)
    w_other, origins_other = COMBINED.learn(other.until(origin), "deaths", 6, seed=1)
    assert origins_cut == origins_other
    assert w_other["active"].tolist() == [0.0, 1.0]
    w_full, _ = COMBINED.learn(other, "deaths", 6, seed=1)  # the whole panel: the silent months are seen
    assert w_full["active"][0] > 0


def test_combined_paths_keep_a_quiet_region_at_zero_and_mix_whole_paths():
    panel = _panel()
    paths = COMBINED(panel, "deaths", 6, seed=3)
    assert paths.shape == (300, 6, 2) and np.all(paths[:, :, 0] == 0)
    a, b = np.zeros((50, 4, 1)), np.ones((50, 4, 1))
    mixed = mix_paths([a, b], {"quiet": np.array([0.3, 0.7]), "active": np.array([0.3, 0.7])},
                      np.array([False]), draws=2000, seed=0)
    rows = mixed[:, :, 0]
    assert np.all((rows == 0).all(axis=1) | (rows == 1).all(axis=1))  # each path from one component
    assert rows[:, 0].mean() == pytest.approx(0.7, abs=0.04)

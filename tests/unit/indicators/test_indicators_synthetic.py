"""Synthetic panels: reproducible by seed, stationary, with sample moments that match the truth."""

from __future__ import annotations

import numpy as np
import pytest

from indicators import (
    InputError,
    lag_values,
    load_demo_regions,
    simulate_amount_panel,
    simulate_count_panel,
    simulate_share_panel,
    spatial_lag,
)


def test_same_seed_same_panel_and_different_seed_different_panel():
    first, truth = simulate_count_panel(6, 40, seed=11, missing_fraction=0.2)
    again, truth_again = simulate_count_panel(6, 40, seed=11, missing_fraction=0.2)
    other, _ = simulate_count_panel(6, 40, seed=12, missing_fraction=0.2)
    assert first.content_hash() == again.content_hash()
    np.testing.assert_array_equal(truth.lam, truth_again.lam)
    assert first.content_hash() != other.content_hash()
    for simulate in (simulate_share_panel, simulate_amount_panel):
        assert simulate(5, 30, seed=3)[0].content_hash() == simulate(5, 30, seed=3)[0].content_hash()


def test_count_panel_shape_ids_truth_and_stationarity():
    panel, truth = simulate_count_panel(seed=0)
    assert panel.shape == (20, 120) and panel.regions[0] == "R01" and panel.regions[-1] == "R20"
    assert panel.periods[0] == "2010-01" and panel.indicators == ["attacks"]
    assert truth.regions == panel.regions and truth.normalise == "target" and truth.seed == 0
    assert ((truth.lam >= 0.1) & (truth.lam <= 0.6)).all()
    assert ((truth.phi > 0) & (truth.phi <= 0.3)).all()
    assert (truth.lam + truth.phi <= 0.85 + 1e-12).all()
    values = panel.values("attacks")
    assert np.array_equal(values, np.round(values)) and values.min() >= 0
    np.testing.assert_allclose(panel.weights(), truth.weights)


def test_count_sample_moments_match_the_stationary_truth():
    panel, truth = simulate_count_panel(9, 3000, seed=5)
    y = panel.values("attacks")
    np.testing.assert_allclose(y.mean(axis=1), truth.stationary_mean, rtol=0.1)
    assert (y.var(axis=1) > 1.5 * y.mean(axis=1)).all()  # negative binomial + feedback: over-dispersed
    # Least squares of y[t] on (1, y[t-1], neighbour mean[t-1]) recovers lam and phi on a long series.
    own, ne = lag_values(y), spatial_lag(y, truth.weights)
    for r in range(9):
        X = np.column_stack([np.ones(2999), own[r, 1:], ne[r, 1:]])
        coef = np.linalg.lstsq(X, y[r, 1:], rcond=None)[0]
        assert coef[1] == pytest.approx(truth.lam[r], abs=0.08)
        assert coef[2] == pytest.approx(truth.phi[r], abs=0.2)


def test_spillover_switches_and_targets():
    _, off = simulate_count_panel(6, 30, seed=1, spillover=False)
    assert (off.phi == 0).all()
    _, targeted = simulate_count_panel(6, 30, seed=1, phi_targets=["R02"], phi=0.25, lam=0.3)
    assert targeted.phi.tolist() == [0, 0.25, 0, 0, 0, 0] and (targeted.lam == 0.3).all()
    with pytest.raises(InputError, match="R99"):
        simulate_count_panel(6, 30, phi_targets=["R99"])
    with pytest.raises(InputError, match="explosive"):
        simulate_count_panel(4, 30, lam=0.8, phi=0.4)


def test_demo_map_ring_and_missing_cells():
    panel, truth = simulate_count_panel(graph=load_demo_regions(), n_periods=24, seed=2, missing_fraction=0.3)
    assert panel.regions[:2] == ["IRQ", "IRN"] and len(panel.regions) == 25
    assert 0.2 < np.isnan(panel.values("attacks")).mean() < 0.4
    assert not np.isnan(truth.values).any()
    ring, _ = simulate_count_panel(5, 12, graph="ring")
    assert ring.neighbours("R01") == ["R02", "R05"]


@pytest.mark.parametrize("seed", [1, 4])
def test_share_panel_stays_in_unit_interval_with_exact_zeros_and_ones(seed):
    panel, truth = simulate_share_panel(20, 120, seed=seed)
    v = panel.values("militia_share")
    assert ((v >= 0) & (v <= 1)).all()
    assert (v == 0).any() and (v == 1).any() and ((v > 0) & (v < 1)).mean() > 0.5
    assert (truth.rho + truth.psi < 1).all()
    np.testing.assert_allclose(truth.latent.mean(axis=1), truth.level, atol=1.0)


def test_amount_panel_is_a_hurdle_with_the_right_zero_rate():
    panel, truth = simulate_amount_panel(10, 2000, seed=6)
    v = panel.values("seizures_kg")
    assert v.min() >= 0
    np.testing.assert_allclose((v > 0).mean(axis=1), truth.p_any, atol=0.04)
    logs = [np.log(row[row > 0]).mean() for row in v]
    np.testing.assert_allclose(logs, truth.log_mu, atol=0.1)

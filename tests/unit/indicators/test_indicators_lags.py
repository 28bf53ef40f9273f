"""Own and spatial lags: gaps are never zeros; the neighbour mean renormalises over observed neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from indicators import InputError, lag_values, spatial_lag, spatial_lag_by_source, weights_matrix

nan = np.nan
# B's neighbours are A, C and D; A, C, D each have only B; E has none.
REGIONS = [
    {"id": "A", "neighbours": ["B"]},
    {"id": "B", "neighbours": ["A", "C", "D"]},
    {"id": "C", "neighbours": ["B"]},
    {"id": "D", "neighbours": ["B"]},
    {"id": "E", "neighbours": []},
]
ORDER = ["A", "B", "C", "D", "E"]
Y = np.array(
    [
        [1.0, 2.0, nan, 4.0],
        [10.0, nan, 30.0, 40.0],
        [3.0, 6.0, nan, 0.0],
        [5.0, nan, nan, 2.0],
        [7.0, 7.0, 7.0, 7.0],
    ]
)


def test_lag_values_shifts_and_fills_nan():
    out = lag_values(Y, 1)
    assert np.isnan(out[:, 0]).all()
    np.testing.assert_array_equal(out[:, 1:], Y[:, :-1])
    np.testing.assert_array_equal(lag_values(Y, 0), Y)
    assert np.isnan(lag_values(Y, 9)).all()
    with pytest.raises(InputError):
        lag_values(Y, -1)


def test_spatial_lag_is_the_mean_over_neighbours_observed_at_t_minus_1():
    w = weights_matrix(REGIONS, ORDER)
    out = spatial_lag(Y, w, k=1)
    assert out.shape == Y.shape
    assert np.isnan(out[:, 0]).all()
    # B at t=1 uses A, C, D at t=0: (1 + 3 + 5) / 3
    assert out[1, 1] == pytest.approx(3.0)
    # B at t=2: D missing at t=1 -> mean over A and C only: (2 + 6) / 2, not (2 + 6 + 0) / 3
    assert out[1, 2] == pytest.approx(4.0)
    # B at t=3: only D? A and C are NaN at t=2, D NaN too -> NaN (nothing observed)
    assert np.isnan(out[1, 3])
    # A at t=2: B missing at t=1 -> NaN, never 0
    assert np.isnan(out[0, 2])
    assert out[0, 3] == 30.0
    # E has no neighbours -> NaN throughout (models add 0 for a NaN neighbour term)
    assert np.isnan(out[4]).all()


def test_source_normalisation_equals_the_hhh4_sum_when_all_are_observed():
    full = np.arange(20, dtype=float).reshape(5, 4)
    w = weights_matrix(REGIONS, ORDER, normalise="source")
    out = spatial_lag(full, w)
    expected = w.T @ full[:, :-1]
    expected[4] = nan  # E has no neighbour
    np.testing.assert_allclose(out[:, 1:], expected)


def test_by_source_contributions_sum_to_the_spatial_lag():
    w = weights_matrix(REGIONS, ORDER)
    parts = spatial_lag_by_source(Y, w)
    assert parts.shape == (5, 5, 4)
    np.testing.assert_allclose(parts.sum(axis=1), spatial_lag(Y, w), equal_nan=True)
    assert parts[1, 0, 2] == pytest.approx(1.0)  # A's share of B at t=2: 2 * (1/3) * 3/2


def test_leading_axes_are_supported_and_shapes_checked():
    w = weights_matrix(REGIONS, ORDER)
    stacked = np.stack([Y, Y * 2])
    out = spatial_lag(stacked, w)
    np.testing.assert_allclose(out[1], 2 * spatial_lag(Y, w), equal_nan=True)
    with pytest.raises(InputError, match="W must be"):
        spatial_lag(Y, np.eye(3))

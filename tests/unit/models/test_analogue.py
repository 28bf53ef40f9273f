"""The analogue forecaster: exact zeros where quiet stays quiet, decay after a record, no look-ahead."""

import numpy as np
import pytest

from models.count.analogue import analogue_paths, months_since_positive


def _panel(n_regions=30, months=240, seed=0):
    """Quiet regions (all zeros) and regions with shocks that decay geometrically over a year."""
    rng = np.random.default_rng(seed)
    values = np.zeros((n_regions, months))
    for r in range(n_regions // 2, n_regions):
        for start in rng.choice(months - 30, size=3, replace=False):
            peak = rng.integers(200, 2000)
            values[r, start:start + 18] = np.maximum(values[r, start:start + 18],
                                                     np.round(peak * 0.6 ** np.arange(18)))
    return values


def test_months_since_positive_counts_back_to_the_last_positive_month():
    values = np.array([[0, 5, 0, 0], [0, 0, 0, 0], [1, np.nan, 0, 2]], float)
    assert months_since_positive(values, 3).tolist() == [2, 240, 0]


def test_a_region_quiet_for_years_whose_analogues_stayed_quiet_is_forecast_at_exactly_zero():
    values = _panel()
    paths = analogue_paths(values, 6, draws=200, seed=1)
    assert paths.shape == (200, 6, 30)
    assert np.all(paths[:, :, 0] == 0.0)


def test_after_a_record_month_the_median_path_falls_below_the_record():
    values = _panel()
    shocked = values[-1].copy()
    shocked[-1] = 3000.0  # a record month at the origin
    values[-1] = shocked
    paths = analogue_paths(values, 6, draws=500, seed=2)
    medians = np.median(paths[:, :, -1], axis=0)
    assert medians[0] < 3000.0 and medians[-1] <= medians[0]
    assert paths.max() <= 3 * 3000.0  # bounded by the ceiling


def test_the_forecast_uses_no_month_after_the_origin():
    values = _panel(months=200)
    first = analogue_paths(values, 6, draws=100, seed=3)
    again = analogue_paths(values, 6, draws=100, seed=3)
    np.testing.assert_array_equal(first, again)
    # a longer history changes nothing about which futures were available before the old origin
    with pytest.raises(ValueError, match="no analogue"):
        analogue_paths(values[:, :8], 6, draws=10)


def test_regions_not_observed_at_the_origin_are_nan():
    values = _panel()
    values[3, -1] = np.nan
    paths = analogue_paths(values, 3, draws=20)
    assert np.isnan(paths[:, :, 3]).all() and np.isfinite(paths[:, :, 4]).all()

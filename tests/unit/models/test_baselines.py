"""Baseline forecasters: shapes, values, and regions without data."""

import numpy as np
import pandas as pd
import pytest

from indicators import Panel
from models.evaluation.baselines import BASELINES, bootstrap_forecast, persistence_forecast, zero_forecast

REGIONS = [
    {"id": "A", "name": "A", "neighbours": ["B"]},
    {"id": "B", "name": "B", "neighbours": ["A", "C"]},
    {"id": "C", "name": "C", "neighbours": ["B"]},
]


@pytest.fixture(scope="module")
def panel():
    """A: 20 months 0..19; B: 5 months then its last 2 months missing; C: no data."""
    periods = [f"2020-{m:02d}" for m in range(1, 13)] + [f"2021-{m:02d}" for m in range(1, 9)]
    rows = [("A", "deaths", p, float(i)) for i, p in enumerate(periods)]
    rows += [("B", "deaths", p, v) for p, v in zip(periods[13:18], [7.0, 0.0, 3.0, 3.0, 9.0])]
    frame = pd.DataFrame(rows, columns=["region", "indicator", "period", "value"])
    return Panel.from_frame(frame, regions=REGIONS)


def test_zero_is_a_point_mass_at_zero(panel):
    out = zero_forecast(panel, "deaths", 4, 0)
    assert out.shape == (1, 4, 3)
    assert (out[:, :, :2] == 0).all() and np.isnan(out[:, :, 2]).all()


def test_persistence_takes_the_last_observed_value(panel):
    out = persistence_forecast(panel, "deaths", 3, 0)
    assert out.shape == (1, 3, 3)
    np.testing.assert_array_equal(out[0, :, 0], [19.0] * 3)
    # B's last two months are missing: its last observed value (9) is carried forward
    np.testing.assert_array_equal(out[0, :, 1], [9.0] * 3)
    assert np.isnan(out[0, :, 2]).all()


def test_bootstrap_draws_from_the_last_12_observed_months(panel):
    out = bootstrap_forecast(panel, "deaths", 6, seed=3, draws=2000)
    assert out.shape == (2000, 6, 3)
    assert set(np.unique(out[:, :, 0])) == set(range(8, 20))  # A's last 12 months: 8..19
    assert set(np.unique(out[:, :, 1])) == {0.0, 3.0, 7.0, 9.0}  # B has only 5 observed months
    assert np.isnan(out[:, :, 2]).all()
    # each step is an independent draw: about 2/5 of B's draws are 3 at every step
    np.testing.assert_allclose((out[:, :, 1] == 3.0).mean(axis=0), 0.4, atol=0.05)
    assert not np.array_equal(out[:, 0, 0], out[:, 1, 0])


def test_bootstrap_is_reproducible_by_seed(panel):
    np.testing.assert_array_equal(bootstrap_forecast(panel, "deaths", 2, 5), bootstrap_forecast(panel, "deaths", 2, 5))
    assert not np.array_equal(bootstrap_forecast(panel, "deaths", 2, 5), bootstrap_forecast(panel, "deaths", 2, 6))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_refuses_a_zero_horizon(panel, name):
    with pytest.raises(ValueError, match="horizon"):
        BASELINES[name](panel, "deaths", 0, 0)


def test_baselines_see_only_the_panel_they_are_given(panel):
    early = panel.until("2020-06")
    np.testing.assert_array_equal(persistence_forecast(early, "deaths", 1, 0)[0, 0], [5.0, np.nan, np.nan])

"""indicators.suggested_thresholds: the region's own recent quantiles, the one rule of the API, page and demo."""

from __future__ import annotations

import pytest

from indicators import InputError, suggested_thresholds


def test_counts_get_the_smallest_whole_number_above_the_quantile_of_the_last_months():
    values = [500.0] * 10 + [float(v) for v in range(1, 25)]
    (median, upper) = suggested_thresholds(values, levels=(0.5, 0.75), months=24)
    assert (median.quantile, median.threshold) == (12.5, 13)
    assert (upper.quantile, upper.threshold) == (18.25, 19)
    assert suggested_thresholds([4.0, 4.0, 4.0], levels=(0.5,))[0].threshold == 5  # above a flat series


def test_shares_and_amounts_get_the_quantile_itself():
    assert suggested_thresholds([0.1, 0.2, 0.3], kind="share", levels=(0.5,))[0].threshold == 0.2
    assert suggested_thresholds([1234.5678], kind="amount", levels=(0.9,))[0].threshold == 1230.0


@pytest.mark.parametrize("values, levels, months", [([], (0.5,), 24), ([1.0], (1.0,), 24), ([1.0], (), 24),
                                                    ([1.0], (0.5,), 0)])
def test_nothing_to_take_quantiles_from_or_a_bad_level_is_an_input_error(values, levels, months):
    with pytest.raises(InputError):
        suggested_thresholds(values, levels=levels, months=months)

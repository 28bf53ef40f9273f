"""How the CLI writes numbers: percentages with one decimal (as the page), signed points for differences,
levels rounded like the page's chart, given numbers without float noise."""

import math

import pytest

from service.cli.formatting import interval, level, mc_error, number, percent, points
from service.cli.models import probability_rows


def test_probabilities_are_percentages_with_one_decimal():
    assert percent(0.123456) == "12.3%" and percent(1.0) == "100.0%" and percent(0) == "0.0%"
    assert percent(None) == "-" and percent(math.nan) == "-"
    assert interval([0.088, 0.18]) == "8.8% to 18.0%" and interval(None) == "-"
    assert points(0.0423) == "+4.2 pts" and points(-0.0051) == "-0.5 pts"
    assert interval([-0.01, 0.05], points) == "-1.0 pts to +5.0 pts"
    assert mc_error(0.00437) == "+-0.4 pts" and mc_error(None) == "-"


@pytest.mark.parametrize(("value", "written"), [
    (3.950000000000003, "4.0"), (0.0, "0"), (0.25, "0.25"), (0.0123, "0.01"), (0.00123, "0.0012"), (17.5, "18"),
    (999.4, "999"), (1234.6, "1,235"), (None, "-"), (math.inf, "-")])
def test_levels_are_rounded_to_what_a_reader_uses(value, written):
    assert level(value) == written


def test_given_numbers_lose_their_float_noise():
    assert number(3.950000000000003) == "3.95" and number(23.0) == "23" and number(0.125) == "0.125"
    assert number(7) == "7" and number(None) == "-"


def test_probability_answers_become_one_row_or_one_per_month():
    within = {"within": True, "horizon": 3, "probability": 0.25, "interval": [0.2, 0.3], "mc_standard_error": 0.01}
    assert probability_rows(within) == [("some month 1..3", 0.25, [0.2, 0.3], 0.01)]
    monthly = {"within": False, "horizon": 2, "probability": [0.1, 0.2], "interval": [[0.0, 0.2], [0.1, 0.3]],
               "mc_standard_error": None}
    assert probability_rows(monthly) == [("month 1", 0.1, [0.0, 0.2], None), ("month 2", 0.2, [0.1, 0.3], None)]

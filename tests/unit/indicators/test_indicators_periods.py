"""Month strings: parsing, arithmetic, ranges, current month."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from indicators import PeriodError, add_months, current_month, month_range, months_between, parse_period


@pytest.mark.parametrize("text", ["2021-00", "2021-13", "2021-1", "21-01", "2021/01", "2021-01-01", "0000-01", "",
                                  "2021-01\n"])
def test_malformed_periods_raise(text):
    if text.endswith("\n"):  # surrounding whitespace is tolerated
        assert parse_period(text) == "2021-01"
        return
    with pytest.raises(PeriodError, match="YYYY-MM"):
        parse_period(text)


def test_parse_accepts_dates_and_trims():
    assert parse_period(" 1999-12 ") == "1999-12"
    assert parse_period(date(2020, 2, 29)) == "2020-02"
    assert parse_period(datetime(2020, 11, 1, 5)) == "2020-11"
    with pytest.raises(PeriodError):
        parse_period(202001)


def test_month_arithmetic_crosses_years():
    assert add_months("2020-11", 3) == "2021-02"
    assert add_months("2021-01", -1) == "2020-12"
    assert add_months("2021-01", -25) == "2018-12"
    assert months_between("2020-11", "2021-02") == 3


def test_month_range_is_inclusive_and_empty_when_reversed():
    assert month_range("2020-11", "2021-02") == ["2020-11", "2020-12", "2021-01", "2021-02"]
    assert month_range("2021-02", "2021-02") == ["2021-02"]
    assert month_range("2021-02", "2021-01") == []


def test_current_month_from_a_given_day():
    assert current_month(date(2024, 1, 31)) == "2024-01"
    assert len(current_month()) == 7

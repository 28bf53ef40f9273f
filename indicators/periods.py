"""Months as "YYYY-MM" strings: parsing, month arithmetic and the not-in-the-future rule.

Periods are plain strings so that they serialise, sort and compare as themselves
("2021-03" < "2021-11" lexicographically and in time, for four-digit years).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from indicators.errors import PeriodError

PERIOD_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
"""A month as YYYY-MM (zero-padded month, four-digit year)."""

EARLIEST_PERIOD = "1900-01"
"""The earliest month an observation may have (an earlier one is a typo such as 0001-01 or 1024-01)."""

_PERIOD_HINT = "Write periods as YYYY-MM, for example 2021-03."


def parse_period(value: object) -> str:
    """Return `value` as a canonical "YYYY-MM" month string.

    Accepts a "YYYY-MM" string (surrounding whitespace is ignored) or a `date`/`datetime`.

    Raises
    ------
    PeriodError
        If the value is not a month written as YYYY-MM (year 0001-9999, month 01-12).
    """
    if isinstance(value, str):
        text = value.strip()
        match = PERIOD_PATTERN.fullmatch(text)
        if match is None or match.group(1) == "0000":
            raise PeriodError(f"invalid period {value!r}: expected a month as YYYY-MM", hint=_PERIOD_HINT)
        return text
    if isinstance(value, (date, datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    raise PeriodError(
        f"invalid period {value!r}: expected a string YYYY-MM, got {type(value).__name__}", hint=_PERIOD_HINT
    )


def period_to_index(period: str) -> int:
    """Return the month number of `period` counted from year 0 (year * 12 + month - 1)."""
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def index_to_period(index: int) -> str:
    """Return the "YYYY-MM" string of a month number made by `period_to_index`.

    Raises
    ------
    PeriodError
        If the month falls outside years 0001-9999.
    """
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise PeriodError(f"month arithmetic left years 0001-9999 (year {year})")
    return f"{year:04d}-{month0 + 1:02d}"


def add_months(period: str, n: int) -> str:
    """Return the month `n` months after `period` (before it if `n` is negative).

    Raises
    ------
    PeriodError
        If `period` is malformed or the result leaves years 0001-9999.
    """
    return index_to_period(period_to_index(parse_period(period)) + int(n))


def months_between(start: str, end: str) -> int:
    """Return how many months `end` is after `start` (negative if it is before)."""
    return period_to_index(parse_period(end)) - period_to_index(parse_period(start))


def month_range(start: str, end: str) -> list[str]:
    """Return every month from `start` to `end`, both included; empty if `end` is before `start`.

    Raises
    ------
    PeriodError
        If either bound is malformed.
    """
    first = period_to_index(parse_period(start))
    last = period_to_index(parse_period(end))
    return [index_to_period(i) for i in range(first, last + 1)]


def current_month(today: date | None = None) -> str:
    """Return the month of `today` (default: today's date in UTC) as "YYYY-MM"."""
    if today is None:
        today = datetime.now(timezone.utc).date()
    return f"{today.year:04d}-{today.month:02d}"


def is_future(period: str, today: date | None = None) -> bool:
    """Return True if `period` is later than the month of `today` (default: now, UTC)."""
    return parse_period(period) > current_month(today)


def check_not_future(period: str, today: date | None = None) -> str:
    """Return the canonical `period` if it is not later than the current month.

    Raises
    ------
    PeriodError
        If the period is malformed or in the future.
    """
    canonical = parse_period(period)
    now = current_month(today)
    if canonical > now:
        raise PeriodError(
            f"period {canonical} is in the future (current month is {now})",
            hint="Only send months that have already started.",
        )
    return canonical

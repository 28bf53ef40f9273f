"""Validation of observation batches: every DESIGN section 2 rule, every bad row reported at once.

A batch is atomic: `validate_batch` either returns one `Observation` per row, or raises
`BatchRejected` whose `.errors` list every bad row (0-based row index, field, reason), so a
caller can fix the whole file in one round trip. It is a plain loop over dicts (no pandas),
built for 100,000-row ingests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from indicators.errors import BatchRejected, BatchTooLarge, RowError, UnknownIndicator, UnknownRegion
from indicators.kinds import IndicatorKind, ValueRejected, check_count_not_rounded, check_value, parse_number
from indicators.periods import EARLIEST_PERIOD, PERIOD_PATTERN, current_month

__all__ = ["BatchTooLarge", "Catalogue", "FIELDS", "Observation", "validate_batch"]

FIELDS: tuple[str, ...] = ("region", "indicator", "period", "value")
"""The fields of an observation row, in the order errors are reported."""

MAX_ERRORS_LISTED = 10_000
"""At most this many RowErrors are kept in one BatchRejected (the count in the message is exact)."""


@dataclass(frozen=True)
class Catalogue:
    """The known region ids and indicator ids (with their kind) that observations may refer to."""

    regions: frozenset[str]
    indicators: Mapping[str, IndicatorKind] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", frozenset(self.regions))
        object.__setattr__(
            self, "indicators", {name: IndicatorKind(kind) for name, kind in dict(self.indicators).items()}
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """One valid observation: the value of `indicator` in `region` for month `period`."""

    region: str
    indicator: str
    period: str
    value: float

    @property
    def key(self) -> tuple[str, str, str]:
        """Return the (region, indicator, period) key of the observation."""
        return (self.region, self.indicator, self.period)

    def to_dict(self) -> dict:
        """Return the observation as a JSON-ready dict."""
        return {"region": self.region, "indicator": self.indicator, "period": self.period, "value": self.value}


def _describe(raw: object) -> str:
    """Return a short printable form of a raw field value for error messages."""
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_batch(
    rows: Sequence[Mapping],
    *,
    catalogue: Catalogue,
    today: date | None = None,
    max_rows: int | None = None,
) -> list[Observation]:
    """Return one Observation per row (value as float) if every row of the batch is valid.

    Rules: all four fields present; region and indicator in the catalogue; period a YYYY-MM
    month from EARLIEST_PERIOD (1900-01) to the month of `today` (default: now, UTC); value a finite
    number (int, float or numeric string; not bool) obeying the indicator's kind (count: non-negative
    integer up to 2**53, share: in [0, 1], amount: non-negative); no (region, indicator, period) key twice
    in the batch (the later row is the one reported).

    Raises
    ------
    BatchTooLarge
        If `max_rows` is given and the batch is longer.
    BatchRejected
        With a RowError for every bad field of every bad row (row = 0-based index in `rows`).
    """
    if max_rows is not None and len(rows) > max_rows:
        raise BatchTooLarge(f"batch has {len(rows)} rows; at most {max_rows} are accepted per batch")
    check = _BatchCheck(catalogue, current_month(today))
    problems = _BatchProblems()
    observations: list[Observation] = []
    for index, row in enumerate(rows):
        row_problems, observation = check.row(index, row)
        if row_problems is None:
            observations.append(observation)
        else:
            problems.add(row_problems)
    if problems.listed:
        raise problems.rejection(len(rows))
    return observations


class _BatchCheck:
    """The checks of one batch: the catalogue, the current month, the periods parsed so far and the keys seen."""

    __slots__ = ("first_row", "kinds", "now", "periods", "regions")

    def __init__(self, catalogue: Catalogue, now: str) -> None:
        self.regions = catalogue.regions
        self.kinds = catalogue.indicators
        self.now = now
        self.periods: dict[str, str | None] = {}  # raw period -> canonical, or None when malformed
        self.first_row: dict[tuple[str, str, str], int] = {}

    def row(self, index: int, row: object) -> tuple[list[RowError] | None, Observation | None]:
        """Return (None, the row's Observation) for a valid row, else (its RowErrors, None)."""
        if type(row) is not dict and not isinstance(row, Mapping):
            reason = f"expected an object with fields {', '.join(FIELDS)}, got {type(row).__name__}"
            return [RowError(index, "row", reason)], None
        region = row.get("region")
        indicator = row.get("indicator")
        problems: list[RowError] = []
        if type(region) is not str or region not in self.regions:
            problems.append(_region_error(index, row, region))
        kind = self.kinds.get(indicator) if type(indicator) is str else None
        if kind is None:
            problems.append(_indicator_error(index, row, indicator))
        period = self.canonical_period(row.get("period"))
        if period is None:
            problems.append(_period_error(index, row, row.get("period")))
        elif period > self.now:
            reason = f"period {period} is in the future (current month is {self.now})"
            problems.append(RowError(index, "period", reason))
        elif period < EARLIEST_PERIOD:
            reason = f"period {period} is before {EARLIEST_PERIOD}, the earliest month accepted"
            problems.append(RowError(index, "period", reason))
        value, value_problem = _value_of(index, row, kind)
        if value_problem is not None:
            problems.append(value_problem)
        if problems:
            if period and isinstance(region, str) and isinstance(indicator, str):
                self.first_row.setdefault((region, indicator, period), index)
            return problems, None
        return self.first_occurrence(index, region, indicator, period, value)

    def canonical_period(self, period: object) -> str | None:
        """Return the canonical YYYY-MM of a raw period (parsed once per distinct text), or None if malformed."""
        if type(period) is not str:
            return None
        canonical = self.periods.get(period, False)
        if canonical is False:
            text = period.strip()
            match = PERIOD_PATTERN.fullmatch(text)
            canonical = text if match is not None and match.group(1) != "0000" else None
            self.periods[period] = canonical
        return canonical

    def first_occurrence(
        self, index: int, region: str, indicator: str, period: str, value: float
    ) -> tuple[list[RowError] | None, Observation | None]:
        """Return (None, the Observation) the first time a key is seen, else (the duplicate's RowError, None)."""
        first = self.first_row.setdefault((region, indicator, period), index)
        if first != index:
            reason = f"duplicate of row {first}: {region} {indicator} {period} appears twice in the batch"
            return [RowError(index, "row", reason)], None
        observation = _new_observation(Observation)
        _set_field(observation, "region", region)
        _set_field(observation, "indicator", indicator)
        _set_field(observation, "period", period)
        _set_field(observation, "value", value)
        return None, observation


_new_observation = Observation.__new__  # a frozen slots dataclass: filled field by field, without __init__'s checks
_set_field = object.__setattr__


class _BatchProblems:
    """The RowErrors of a batch (at most MAX_ERRORS_LISTED kept) with exact counts of problems and bad rows."""

    __slots__ = ("listed", "n_bad_rows", "n_problems")

    def __init__(self) -> None:
        self.listed: list[RowError] = []
        self.n_problems = 0
        self.n_bad_rows = 0

    def add(self, row_problems: list[RowError]) -> None:
        """Count one bad row and its problems, kept while fewer than MAX_ERRORS_LISTED are; returns nothing."""
        self.n_problems += len(row_problems)
        self.n_bad_rows += 1
        if len(self.listed) < MAX_ERRORS_LISTED:
            self.listed.extend(row_problems)

    def rejection(self, n_rows: int) -> BatchRejected:
        """Return the BatchRejected listing the kept problems, its message counting all of them."""
        message = (f"batch rejected: {self.n_bad_rows} bad row(s) of {n_rows}, {self.n_problems} problem(s); "
                   "nothing was stored")
        if self.n_problems > len(self.listed):
            message += f" (first {len(self.listed)} problems listed)"
        return BatchRejected(self.listed[:MAX_ERRORS_LISTED], message)


def _value_of(index: int, row: Mapping, kind: IndicatorKind | None) -> tuple[float, RowError | None]:
    """Return (the row's value as a float, None), or (0.0, its RowError): missing, not a number or bad for `kind`."""
    raw_value = row.get("value")
    if raw_value is None and "value" not in row:
        return 0.0, RowError(index, "value", "missing field 'value'")
    try:
        value_type = type(raw_value)
        value = raw_value if value_type is float else None
        if value_type is str or value_type is int:  # fast path; parse_number gives the reasons
            try:
                value = float(raw_value) if value_type is int or "_" not in raw_value else None
            except (ValueError, OverflowError):
                value = None
        if value is None or value - value != 0.0:  # unparsed, NaN or infinite
            value = parse_number(raw_value)
        value += 0.0  # -0.0 -> 0.0
        if kind is not None:
            check_value(value, kind)
            check_count_not_rounded(raw_value, value, kind)
    except ValueRejected as exc:
        return 0.0, RowError(index, "value", str(exc))
    return value, None


def _region_error(index: int, row: Mapping, region: object) -> RowError:
    """Return the RowError for a missing, non-string or unknown region."""
    if "region" not in row or region is None:
        return RowError(index, "region", "missing field 'region'")
    if not isinstance(region, str):
        return RowError(index, "region", f"region must be a string id, got {type(region).__name__}")
    return RowError(index, "region", f"unknown region {_describe(region)}", problem=UnknownRegion)


def _indicator_error(index: int, row: Mapping, indicator: object) -> RowError:
    """Return the RowError for a missing, non-string or unknown indicator."""
    if "indicator" not in row or indicator is None:
        return RowError(index, "indicator", "missing field 'indicator'")
    if not isinstance(indicator, str):
        return RowError(index, "indicator", f"indicator must be a string id, got {type(indicator).__name__}")
    return RowError(index, "indicator", f"unknown indicator {_describe(indicator)}",
                    problem=UnknownIndicator)


def _period_error(index: int, row: Mapping, period: object) -> RowError:
    """Return the RowError for a missing or malformed period."""
    if "period" not in row or period is None:
        return RowError(index, "period", "missing field 'period'")
    return RowError(index, "period", f"malformed period {_describe(period)}: expected a month as YYYY-MM")

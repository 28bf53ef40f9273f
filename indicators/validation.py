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

from indicators.errors import BatchRejected, BatchTooLarge, RowError
from indicators.kinds import IndicatorKind, ValueRejected, check_value, parse_number
from indicators.periods import PERIOD_PATTERN, current_month

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
    month not later than the month of `today` (default: now, UTC); value a finite number
    (int, float or numeric string; not bool) obeying the indicator's kind (count: non-negative
    integer, share: in [0, 1], amount: non-negative); no (region, indicator, period) key twice
    in the batch (the later row is the one reported).

    Raises
    ------
    BatchTooLarge
        If `max_rows` is given and the batch is longer.
    BatchRejected
        With a RowError for every bad field of every bad row (row = 0-based index in `rows`).
    """
    n_rows = len(rows)
    if max_rows is not None and n_rows > max_rows:
        raise BatchTooLarge(f"batch has {n_rows} rows; at most {max_rows} are accepted per batch")
    now = current_month(today)
    regions = catalogue.regions
    kinds = catalogue.indicators
    fullmatch = PERIOD_PATTERN.fullmatch
    period_ok: dict[object, str | None] = {}  # raw period -> canonical, or None when malformed
    first_row: dict[tuple[str, str, str], int] = {}
    errors: list[RowError] = []
    n_errors = 0
    n_bad_rows = 0
    out: list[Observation] = []
    append = out.append
    new = Observation.__new__
    set_field = object.__setattr__

    for index, row in enumerate(rows):
        row_errors: list[RowError] | None = None
        if type(row) is not dict and not isinstance(row, Mapping):
            row_errors = [RowError(index, "row", f"expected an object with fields {', '.join(FIELDS)}, got {type(row).__name__}")]
        else:
            region = row.get("region")
            indicator = row.get("indicator")
            period = row.get("period")
            raw_value = row.get("value")
            if type(region) is not str or region not in regions:
                row_errors = [_region_error(index, row, region)]
            kind = kinds.get(indicator) if type(indicator) is str else None
            if kind is None:
                row_errors = (row_errors or []) + [_indicator_error(index, row, indicator)]
            canonical = period_ok.get(period, False) if type(period) is str else None
            if canonical is False:
                text = period.strip()
                match = fullmatch(text)
                canonical = text if match is not None and match.group(1) != "0000" else None
                period_ok[period] = canonical
            if canonical is None:
                row_errors = (row_errors or []) + [_period_error(index, row, period)]
            elif canonical > now:
                row_errors = (row_errors or []) + [
                    RowError(index, "period", f"period {canonical} is in the future (current month is {now})")
                ]
            value = 0.0
            if raw_value is None and "value" not in row:
                row_errors = (row_errors or []) + [RowError(index, "value", "missing field 'value'")]
            else:
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
                except ValueRejected as exc:
                    row_errors = (row_errors or []) + [RowError(index, "value", str(exc))]
            if row_errors is None:
                key = (region, indicator, canonical)
                first = first_row.setdefault(key, index)
                if first != index:
                    row_errors = [
                        RowError(index, "row", f"duplicate of row {first}: {region} {indicator} {canonical} appears twice in the batch")
                    ]
                elif not errors:
                    obs = new(Observation)
                    set_field(obs, "region", region)
                    set_field(obs, "indicator", indicator)
                    set_field(obs, "period", canonical)
                    set_field(obs, "value", value)
                    append(obs)
            elif canonical and isinstance(region, str) and isinstance(indicator, str):
                first_row.setdefault((region, indicator, canonical), index)
        if row_errors is not None:
            n_errors += len(row_errors)
            n_bad_rows += 1
            if len(errors) < MAX_ERRORS_LISTED:
                errors.extend(row_errors)
    if errors:
        message = f"batch rejected: {n_bad_rows} bad row(s) of {n_rows}, {n_errors} problem(s); nothing was stored"
        if n_errors > len(errors):
            message += f" (first {len(errors)} problems listed)"
        raise BatchRejected(errors[:MAX_ERRORS_LISTED], message)
    return out


def _region_error(index: int, row: Mapping, region: object) -> RowError:
    """Return the RowError for a missing, non-string or unknown region."""
    if "region" not in row or region is None:
        return RowError(index, "region", "missing field 'region'")
    if not isinstance(region, str):
        return RowError(index, "region", f"region must be a string id, got {type(region).__name__}")
    return RowError(index, "region", f"unknown region {_describe(region)}: add it with POST /v1/regions first")


def _indicator_error(index: int, row: Mapping, indicator: object) -> RowError:
    """Return the RowError for a missing, non-string or unknown indicator."""
    if "indicator" not in row or indicator is None:
        return RowError(index, "indicator", "missing field 'indicator'")
    if not isinstance(indicator, str):
        return RowError(index, "indicator", f"indicator must be a string id, got {type(indicator).__name__}")
    return RowError(index, "indicator", f"unknown indicator {_describe(indicator)}: add it with POST /v1/indicators first")


def _period_error(index: int, row: Mapping, period: object) -> RowError:
    """Return the RowError for a missing or malformed period."""
    if "period" not in row or period is None:
        return RowError(index, "period", "missing field 'period'")
    return RowError(index, "period", f"malformed period {_describe(period)}: expected a month as YYYY-MM")

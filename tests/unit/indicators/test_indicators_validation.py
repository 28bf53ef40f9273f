"""validate_batch: every DESIGN section 2 bad-value kind, reported with row index and field, all at once."""

from __future__ import annotations

import math
from datetime import date

import pytest

from indicators import (
    BatchRejected,
    BatchTooLarge,
    Catalogue,
    IndicatorKind,
    Observation,
    add_months,
    current_month,
    validate_batch,
)

TODAY = date(2024, 6, 15)
CATALOGUE = Catalogue(
    regions={"IRQ", "IRN", "SYR"},
    indicators={"attacks": IndicatorKind.COUNT, "militia_share": "share", "seizures_kg": "amount"},
)


def good_rows() -> list[dict]:
    """Return five valid rows with distinct keys."""
    return [
        {"region": "IRQ", "indicator": "attacks", "period": "2024-01", "value": 3},
        {"region": "IRQ", "indicator": "attacks", "period": "2024-02", "value": "4"},
        {"region": "IRN", "indicator": "militia_share", "period": "2024-02", "value": 0.25},
        {"region": "SYR", "indicator": "seizures_kg", "period": "2024-06", "value": "12.5"},
        {"region": "IRN", "indicator": "attacks", "period": "2023-12", "value": 0},
    ]


def test_valid_batch_returns_float_observations_in_order():
    rows = good_rows() + [{"region": "SYR", "indicator": "attacks", "period": " 2020-01 ", "value": " 7.0 "}]
    observations = validate_batch(rows, catalogue=CATALOGUE, today=TODAY)
    assert [o.value for o in observations] == [3.0, 4.0, 0.25, 12.5, 0.0, 7.0]
    assert all(type(o.value) is float for o in observations)
    assert observations[0] == Observation("IRQ", "attacks", "2024-01", 3.0)
    assert observations[-1].period == "2020-01"


def replace(row: dict, **changes) -> dict:
    """Return a copy of `row` with `changes`; a change to the DROP marker removes the field."""
    out = dict(row)
    for key, value in changes.items():
        if value is DROP:
            out.pop(key)
        else:
            out[key] = value
    return out


DROP = object()

# (case id, changes applied to a good count row, field reported, words expected in the reason)
BAD_CASES = [
    ("missing-region", {"region": DROP}, "region", "missing"),
    ("missing-indicator", {"indicator": DROP}, "indicator", "missing"),
    ("missing-period", {"period": DROP}, "period", "missing"),
    ("missing-value", {"value": DROP}, "value", "missing"),
    ("null-value", {"value": None}, "value", "missing"),
    ("empty-string-value", {"value": "  "}, "value", "missing"),
    ("negative-count", {"value": -1}, "value", "negative count"),
    ("negative-count-string", {"value": "-2"}, "value", "negative count"),
    ("non-integer-count", {"value": 3.5}, "value", "non-integer"),
    ("non-integer-count-string", {"value": "2.5"}, "value", "non-integer"),
    ("share-above-one", {"indicator": "militia_share", "value": 1.5}, "value", "outside [0, 1]"),
    ("share-below-zero", {"indicator": "militia_share", "value": "-0.1"}, "value", "outside [0, 1]"),
    ("share-as-percent", {"indicator": "militia_share", "value": 40}, "value", "outside [0, 1]"),
    ("negative-amount", {"indicator": "seizures_kg", "value": -0.5}, "value", "negative amount"),
    ("nan-float", {"value": math.nan}, "value", "NaN"),
    ("nan-string", {"value": "NaN"}, "value", "NaN"),
    ("inf-float", {"indicator": "seizures_kg", "value": math.inf}, "value", "infinite"),
    ("minus-inf-string", {"indicator": "seizures_kg", "value": "-inf"}, "value", "infinite"),
    ("non-numeric-string", {"value": "three"}, "value", "not a number"),
    ("non-numeric-list", {"value": [1]}, "value", "not a number"),
    ("boolean-value", {"value": True}, "value", "boolean"),
    ("unknown-region", {"region": "ATLANTIS"}, "region", "unknown region"),
    ("non-string-region", {"region": ["IRQ"]}, "region", "string"),
    ("unknown-indicator", {"indicator": "murders"}, "indicator", "unknown indicator"),
    ("malformed-period-month-13", {"period": "2021-13"}, "period", "malformed period"),
    ("malformed-period-unpadded", {"period": "2021-3"}, "period", "malformed period"),
    ("malformed-period-date", {"period": "2021-03-01"}, "period", "malformed period"),
    ("malformed-period-number", {"period": 202103}, "period", "malformed period"),
    ("future-period", {"period": "2024-07"}, "period", "future"),
    ("period-before-1900", {"period": "1899-12"}, "period", "before 1900-01"),
    ("period-year-1", {"period": "0001-01"}, "period", "before 1900-01"),
    ("count-1e30", {"value": 1e30}, "value", "above 2**53"),
    ("count-1e30-string", {"value": "1e30"}, "value", "above 2**53"),
    ("count-2**53+1", {"value": 2**53 + 1}, "value", "above 2**53"),
    ("count-2**53+1-string", {"value": " 9007199254740993 "}, "value", "above 2**53"),
]


@pytest.mark.parametrize(("changes", "field", "reason"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_each_bad_value_kind_is_reported_for_every_bad_row(changes, field, reason):
    rows = good_rows()
    base = {"region": "SYR", "indicator": "attacks", "period": "2022-01", "value": 1}
    rows.insert(1, replace(base, **changes))
    rows.insert(4, replace(dict(base, period="2022-02"), **changes))
    with pytest.raises(BatchRejected) as caught:
        validate_batch(rows, catalogue=CATALOGUE, today=TODAY)
    errors = caught.value.errors
    assert [(e.row, e.field) for e in errors] == [(1, field), (4, field)]
    assert all(reason in e.reason for e in errors), errors
    assert "2 bad row(s) of 7" in caught.value.message


def test_duplicate_key_reports_the_later_row_and_names_the_first():
    rows = good_rows()
    rows.append(dict(rows[1], value="9"))
    rows.append(dict(rows[3], period="2024-06"))  # same canonical key as row 3
    with pytest.raises(BatchRejected) as caught:
        validate_batch(rows, catalogue=CATALOGUE, today=TODAY)
    assert [(e.row, e.field) for e in caught.value.errors] == [(5, "row"), (6, "row")]
    assert "duplicate of row 1" in caught.value.errors[0].reason
    assert "duplicate of row 3" in caught.value.errors[1].reason


def test_one_row_with_several_problems_lists_each_field():
    rows = [{"region": "NOWHERE", "indicator": "attacks", "period": "2024-13", "value": -3}]
    with pytest.raises(BatchRejected) as caught:
        validate_batch(rows, catalogue=CATALOGUE, today=TODAY)
    assert [(e.row, e.field) for e in caught.value.errors] == [(0, "region"), (0, "period"), (0, "value")]


def test_non_object_row_is_reported_as_row():
    with pytest.raises(BatchRejected) as caught:
        validate_batch([good_rows()[0], ["IRQ", "attacks", "2024-03", 1]], catalogue=CATALOGUE, today=TODAY)
    assert [(e.row, e.field) for e in caught.value.errors] == [(1, "row")]


def test_future_is_relative_to_the_current_month_by_default():
    now = current_month()
    ok = {"region": "IRQ", "indicator": "attacks", "period": now, "value": 1}
    assert validate_batch([ok], catalogue=CATALOGUE)[0].period == now
    with pytest.raises(BatchRejected):
        validate_batch([dict(ok, period=add_months(now, 1))], catalogue=CATALOGUE)


def test_max_rows_refuses_long_batches_before_checking_rows():
    with pytest.raises(BatchTooLarge, match="at most 3"):
        validate_batch(good_rows(), catalogue=CATALOGUE, today=TODAY, max_rows=3)
    assert len(validate_batch(good_rows(), catalogue=CATALOGUE, today=TODAY, max_rows=5)) == 5


def test_empty_batch_is_valid_and_empty():
    assert validate_batch([], catalogue=CATALOGUE, today=TODAY) == []


def test_hundred_thousand_rows_validate():
    """100k rows in one batch validate (their speed is measured by bench/ingest.py, not asserted here: a
    wall-clock limit fails on a busy machine)."""
    regions = {f"R{i:03d}" for i in range(100)}
    catalogue = Catalogue(regions=regions, indicators={"attacks": "count"})
    periods = [f"{1900 + m // 12:04d}-{m % 12 + 1:02d}" for m in range(1000)]
    rows = [
        {"region": region, "indicator": "attacks", "period": period, "value": str(m % 7)}
        for region in sorted(regions)
        for m, period in enumerate(periods)
    ]
    observations = validate_batch(rows, catalogue=catalogue, today=TODAY)
    assert len(observations) == 100_000
    assert {o.region for o in observations} == regions and observations[-1].period == periods[-1]


def test_the_bounds_themselves_are_valid():
    rows = [{"region": "SYR", "indicator": "attacks", "period": "1900-01", "value": 2**53},
            {"region": "SYR", "indicator": "attacks", "period": "1900-02", "value": "9007199254740992"},
            {"region": "SYR", "indicator": "seizures_kg", "period": "1900-01", "value": 1e30}]
    assert [o.value for o in validate_batch(rows, catalogue=CATALOGUE, today=TODAY)] == [2.0**53, 2.0**53, 1e30]


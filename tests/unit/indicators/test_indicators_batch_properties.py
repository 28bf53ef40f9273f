"""Property: any batch is either fully valid or rejected with exactly its bad rows listed."""

from __future__ import annotations

import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from indicators import BatchRejected, Catalogue, validate_batch

TODAY = date(2024, 6, 15)
KINDS = {"attacks": "count", "militia_share": "share", "seizures_kg": "amount"}
CATALOGUE = Catalogue(regions={"IRQ", "IRN"}, indicators=KINDS)

regions = st.sampled_from(["IRQ", "IRN", "XXX", "", None, 7])
indicators = st.sampled_from(["attacks", "militia_share", "seizures_kg", "nope", None])
periods = st.sampled_from(["2024-01", "2024-06", "2024-07", "2023-13", "2023-1", "1999-12", None, 199912])
values = st.one_of(
    st.integers(-3, 50),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(["3", "3.0", "0.5", "-1", "x", "", "nan", "inf", True, False, None, [1]]),
)
rows = st.fixed_dictionaries(
    {},
    optional={"region": regions, "indicator": indicators, "period": periods, "value": values},
)


def expected_problem(row: dict) -> bool:
    """Return True if the row breaks a rule on its own (an independent oracle of DESIGN section 2)."""
    region, indicator, period, value = (row.get(k) for k in ("region", "indicator", "period", "value"))
    bad = region not in ("IRQ", "IRN") or indicator not in KINDS
    bad |= period not in ("2024-01", "2024-06", "1999-12")
    if isinstance(value, bool) or value is None or isinstance(value, list):
        return True
    try:
        number = float(value)
    except ValueError:
        return True
    if math.isnan(number) or math.isinf(number):
        return True
    kind = KINDS.get(indicator)
    if kind == "count":
        bad |= number < 0 or number != int(number) or number > 2**53  # counts up to 2**53 (issue 19)
    elif kind == "share":
        bad |= not 0 <= number <= 1
    elif kind == "amount":
        bad |= number < 0
    return bad


def expected_bad_rows(batch: list[dict]) -> set[int]:
    """Return the indices of rows that are bad on their own or repeat an earlier row's key."""
    bad = set()
    seen = set()
    for index, row in enumerate(batch):
        region, indicator, period = row.get("region"), row.get("indicator"), row.get("period")
        keyable = (isinstance(region, str) and isinstance(indicator, str)
                   and period in ("2024-01", "2024-06", "2024-07", "1999-12"))
        key = (region, indicator, period)
        if expected_problem(row) or (keyable and key in seen):
            bad.add(index)
        if keyable:
            seen.add(key)
    return bad


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, max_size=12))
def test_batch_is_fully_valid_or_lists_exactly_its_bad_rows(batch):
    expected = expected_bad_rows(batch)
    try:
        observations = validate_batch(batch, catalogue=CATALOGUE, today=TODAY)
    except BatchRejected as exc:
        listed = {error.row for error in exc.errors}
        assert listed == expected
        assert all(error.field in ("region", "indicator", "period", "value", "row") for error in exc.errors)
    else:
        assert expected == set()
        assert len(observations) == len(batch)
        assert all(isinstance(o.value, float) and math.isfinite(o.value) for o in observations)

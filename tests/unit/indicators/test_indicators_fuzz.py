"""Robustness: arbitrary input to the readers and region validation raises only our InputErrors."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from indicators import InputError, read_observations_csv, validate_regions

HEADER = b"region,indicator,period,value\n"
csv_bodies = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda body: HEADER + body),
    st.text(alphabet=st.sampled_from(list('IRQ,attacks2021-03"\r\n\x00é\ufeff ')), max_size=120).map(
        lambda t: "region,indicator,period,value\n" + t),
)


@settings(max_examples=300, deadline=None)
@given(csv_bodies)
def test_csv_reader_returns_four_field_rows_or_raises_input_error(data):
    try:
        rows = read_observations_csv(data)
    except InputError as exc:  # BatchRejected is an InputError too
        assert exc.message
    else:
        assert all(set(row) == {"region", "indicator", "period", "value"} for row in rows)
        assert all(all(isinstance(v, str) for v in row.values()) for row in rows)


ids = st.sampled_from(["A", "B", "C", "", "A B", None, 3])
neighbour = st.one_of(ids, st.fixed_dictionaries(
    {"id": ids}, optional={"weight": st.sampled_from([1, 2.5, 0, -1, "x", True, float("nan")])}))
region = st.one_of(
    st.fixed_dictionaries({"id": ids}, optional={"name": st.sampled_from(["x", "", 5]),
                                                  "parent": st.sampled_from([None, "P", 1]),
                                                  "neighbours": st.one_of(st.lists(neighbour, max_size=4),
                                                                          st.sampled_from([None, "A", 7]))}),
    st.sampled_from([None, "A", 1, []]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(region, max_size=5))
def test_region_validation_accepts_a_symmetric_graph_or_lists_bad_rows(regions):
    try:
        checked = validate_regions(regions)
    except InputError as exc:
        errors = exc.errors
        assert errors and len({e.row for e in errors}) == len(errors)  # one error per bad region
        assert all(0 <= e.row < len(regions) for e in errors)
    else:
        by_id = {r.id: r for r in checked}
        assert len(by_id) == len(regions)
        for r in checked:
            for q, w in zip(r.neighbours, r.weights):
                assert by_id[q].weight_of(r.id) == w

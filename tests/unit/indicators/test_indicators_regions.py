"""Region lists: validation errors name the region; W under both normalisations; demo regions."""

from __future__ import annotations

import numpy as np
import pytest

from indicators import BatchRejected, Region, UnknownRegion, load_demo_regions, validate_regions, weights_matrix
from indicators.errors import InputError


def line(*ids_and_neighbours: tuple[str, list]) -> list[dict]:
    """Return region dicts from (id, neighbours) pairs."""
    return [{"id": rid, "name": rid.title(), "neighbours": nbrs} for rid, nbrs in ids_and_neighbours]


def test_demo_regions_are_25_consistent_regions():
    regions = validate_regions(load_demo_regions())
    assert len(regions) == 25
    by_id = {r.id: r for r in regions}
    assert {"IRQ", "IRN", "PSE"} <= set(by_id)
    assert "IRN" in by_id["IRQ"].neighbours and "IRQ" in by_id["IRN"].neighbours
    assert load_demo_regions() is not load_demo_regions()  # a fresh list each call


@pytest.mark.parametrize(
    ("regions", "row", "field", "words"),
    [
        (line(("A", ["B"]), ("B", ["A", "Z"])), 1, "neighbours", ["B", "unknown neighbour Z"]),
        (line(("A", ["A", "B"]), ("B", ["A"])), 0, "neighbours", ["A", "self-loop"]),
        (line(("A", ["B"]), ("B", []), ("C", [])), 0, "neighbours", ["A", "asymmetric", "B does not list A"]),
        (line(("A", ["B"]), ("B", ["A"]), ("A", [])), 2, "id", ["duplicate region id A"]),
        (line(("A", ["B", "B"]), ("B", ["A"])), 0, "neighbours", ["A", "twice"]),
        ([{"id": "A", "neighbours": [{"id": "B", "weight": -1}]}, {"id": "B", "neighbours": ["A"]}], 0, "neighbours",
         ["A", "positive"]),
        ([{"id": "A", "neighbours": [{"id": "B", "weight": 2}]}, {"id": "B", "neighbours": ["A"]}], 0, "neighbours",
         ["A", "weight"]),
        ([{"id": "bad id!", "neighbours": []}], 0, "id", ["slug"]),
        (["A"], 0, "region", ["region object"]),
    ],
    ids=["unknown-neighbour", "self-loop", "asymmetric-edge", "duplicate-id", "repeated-neighbour",
         "negative-weight", "asymmetric-weight", "bad-id", "not-a-dict"],
)
def test_bad_region_lists_name_the_region(regions, row, field, words):
    with pytest.raises(BatchRejected) as caught:
        validate_regions(regions)
    first = caught.value.errors[0]
    assert (first.row, first.field) == (row, field)
    assert all(word in first.reason for word in words), first.reason


def test_every_bad_region_is_listed_at_once():
    regions = line(("A", ["A"]), ("B", ["Q"]), ("C", ["D"]), ("D", []))
    with pytest.raises(BatchRejected) as caught:
        validate_regions(regions)
    assert [e.row for e in caught.value.errors] == [0, 1, 2]


def test_edge_weights_and_parents_are_kept():
    regions = validate_regions(
        [
            {"id": "IRQ-BAS", "name": "Basra", "parent": "IRQ", "neighbours": [{"id": "IRN-KHU", "weight": 2.0}]},
            {"id": "IRN-KHU", "name": "Khuzestan", "parent": "IRN", "neighbours": [{"id": "IRQ-BAS", "weight": 2}]},
        ]
    )
    assert regions[0] == Region("IRQ-BAS", "Basra", "IRQ", ("IRN-KHU",), (2.0,))
    assert regions[0].to_dict()["neighbours"] == [{"id": "IRN-KHU", "weight": 2.0}]


# A - B - C, and B - D; E isolated
STAR = line(("A", ["B"]), ("B", ["A", "C", "D"]), ("C", ["B"]), ("D", ["B"]), ("E", []))
ORDER = ["A", "B", "C", "D", "E"]


def test_target_normalisation_makes_each_target_column_sum_to_one():
    w = weights_matrix(STAR, ORDER)  # default "target"
    np.testing.assert_allclose(w.sum(axis=0), [1, 1, 1, 1, 0])
    assert w[0, 1] == pytest.approx(1 / 3)  # A is one of B's three neighbours
    assert w[1, 0] == 1.0  # B is A's only neighbour
    assert w[0, 0] == 0 and w[4].sum() == 0


def test_source_normalisation_makes_each_source_row_sum_to_one():
    w = weights_matrix(STAR, ORDER, normalise="source")
    np.testing.assert_allclose(w.sum(axis=1), [1, 1, 1, 1, 0])
    assert w[1, 0] == pytest.approx(1 / 3)  # B spreads over its three neighbours
    assert w[0, 1] == 1.0


def test_weights_follow_the_order_and_drop_edges_outside_it():
    w = weights_matrix(STAR, ["C", "B", "A"])
    np.testing.assert_allclose(w, [[0, 0.5, 0], [1, 0, 1], [0, 0.5, 0]])


def test_edge_weights_enter_the_normalisation():
    regions = [
        {"id": "A", "neighbours": [{"id": "B", "weight": 3}, "C"]},
        {"id": "B", "neighbours": [{"id": "A", "weight": 3}]},
        {"id": "C", "neighbours": ["A"]},
    ]
    w = weights_matrix(regions, ["A", "B", "C"])
    assert w[1, 0] == pytest.approx(0.75) and w[2, 0] == pytest.approx(0.25)


def test_weights_matrix_errors():
    with pytest.raises(UnknownRegion, match="Q"):
        weights_matrix(STAR, ["A", "Q"])
    with pytest.raises(InputError, match="target"):
        weights_matrix(STAR, ORDER, normalise="row")


def test_a_region_with_several_problems_gets_one_error_listing_them_all():
    regions = line(("A", ["A", "Z"]), ("B", []))
    with pytest.raises(BatchRejected) as caught:
        validate_regions(regions)
    assert len(caught.value.errors) == 1
    reason = caught.value.errors[0].reason
    assert "self-loop" in reason and "unknown neighbour Z" in reason


def test_a_malformed_edge_is_blamed_on_its_own_region_only():
    regions = [{"id": "A", "neighbours": [{"id": "B", "weight": "heavy"}]}, {"id": "B", "neighbours": ["A"]}]
    with pytest.raises(BatchRejected) as caught:
        validate_regions(regions)
    assert [e.row for e in caught.value.errors] == [0]


def hub_and_leaves(n: int) -> list[dict]:
    """Return a hub listing n leaves, each listing the hub back (weights 1 and 2 alternating)."""
    leaves = [{"id": f"L{i}", "name": f"Leaf {i}", "neighbours": [{"id": "HUB", "weight": 1 + i % 2}]}
              for i in range(n)]
    hub = {"id": "HUB", "name": "Hub", "neighbours": [{"id": f"L{i}", "weight": 1 + i % 2} for i in range(n)]}
    return [hub, *leaves]


def test_forty_thousand_neighbours_validate_without_a_cap():
    # Quadratic before issue 19 (a list scan per repeat check and per way back: ~1.6e9 steps at 40k); the
    # time is measured by bench/regions.py, this checks what a linear validation must still get right.
    regions = validate_regions(hub_and_leaves(40_000))
    hub = regions[0]
    assert len(hub.neighbours) == 40_000 and hub.weight_of("L39999") == 2.0 and hub.weight_of("L2") == 1.0
    assert regions[-1].neighbours == ("HUB",)
    broken = hub_and_leaves(40_000)
    broken[0]["neighbours"][20_000] = {"id": "L20000", "weight": 5}  # one weight differs from the way back
    broken[0]["neighbours"].append("L7")  # and one repeat, at the end
    with pytest.raises(BatchRejected) as caught:
        validate_regions(broken)
    rows = {e.row: e.reason for e in caught.value.errors}
    assert set(rows) == {0, 20_001}
    assert "L7 twice" in rows[0] and "edge weight to L20000 is 5" in rows[0]


def test_a_neighbour_cap_refuses_the_region_before_reading_its_neighbours():
    regions = hub_and_leaves(1_001)
    with pytest.raises(BatchRejected) as caught:
        validate_regions(regions, max_neighbours=1_000)
    first = caught.value.errors[0]
    assert (first.row, first.field) == (0, "neighbours") and "1001 neighbours; at most 1000" in first.reason
    assert len(validate_regions(hub_and_leaves(1_000), max_neighbours=1_000)) == 1_001


def test_many_problems_of_one_region_are_counted_not_all_spelled_out():
    with pytest.raises(BatchRejected) as caught:
        validate_regions([{"id": "A", "neighbours": [f"Z{i}" for i in range(5_000)]}])
    reason = caught.value.errors[0].reason
    assert reason.count("unknown neighbour") == 20 and "and 4980 more problem(s)" in reason


def test_parents_name_no_region_itself_and_a_listed_one_when_asked():
    with pytest.raises(BatchRejected) as caught:
        validate_regions([{"id": "A", "parent": "A", "neighbours": []}])
    assert (caught.value.errors[0].field, "itself" in caught.value.errors[0].reason) == ("parent", True)
    outside = [{"id": "A", "parent": "GROUP", "neighbours": []}, {"id": "B", "parent": "A", "neighbours": []}]
    assert len(validate_regions(outside)) == 2  # the library default: a parent is a label
    with pytest.raises(BatchRejected) as caught:
        validate_regions(outside, parents_in_list=True)
    assert [(e.row, e.field) for e in caught.value.errors] == [(0, "parent")]
    assert "unknown parent 'GROUP'" in caught.value.errors[0].reason

"""Regions and their adjacency: validation of region lists and the spatial weight matrix W.

A region is given as a dict ``{"id", "name", "parent"?, "neighbours"}`` where neighbours are
ids or ``{"id", "weight"}`` dicts (weight > 0, default 1). Adjacency must be symmetric.

``W[q, r]`` is the weight of source region q in the neighbour term of target region r:

- ``normalise="target"`` (our default, DESIGN section 3): w[q, r] = weight(q, r) / sum of r's
  edge weights, so every target's column sums to 1 (1/|N(r)| without edge weights) and
  phi_r reads as "how much of the neighbours' average level reaches r".
- ``normalise="source"`` (the default of R's ``surveillance::hhh4``): w[q, r] = weight(q, r) /
  sum of q's edge weights, so every source's row sums to 1 (1/|N(q)|).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Iterable, Literal

import numpy as np

from indicators.errors import BatchRejected, InputError, RowError, UnknownRegion

Normalise = Literal["target", "source"]
NORMALISATIONS: tuple[str, ...] = ("target", "source")

REGION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A region id: a slug such as IRQ or IRQ-BAS (letters, digits, '-', '_', '.'; at most 64 characters)."""

DEMO_REGIONS_RESOURCE = "regions-middle-east.json"

MAX_REASONS_PER_REGION = 20
"""At most this many problems of one region are spelled out in its RowError (the rest are counted)."""


@dataclass(frozen=True)
class Region:
    """One region: id, display name, optional parent and its neighbours with edge weights."""

    id: str
    name: str
    parent: str | None = None
    neighbours: tuple[str, ...] = ()
    weights: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.weights:
            object.__setattr__(self, "weights", tuple(1.0 for _ in self.neighbours))
        if len(self.weights) != len(self.neighbours):
            raise InputError(f"region {self.id}: {len(self.neighbours)} neighbours but {len(self.weights)} weights")

    def weight_of(self, neighbour: str) -> float | None:
        """Return the edge weight towards `neighbour`, or None if it is not a neighbour."""
        return self._weight_by_neighbour.get(neighbour)

    @cached_property
    def _weight_by_neighbour(self) -> dict[str, float]:
        """Return {neighbour id: edge weight}, built once so that a lookup does not scan every neighbour."""
        return dict(zip(self.neighbours, self.weights))

    def to_dict(self) -> dict:
        """Return the region in the API dict shape (plain ids when every edge weight is 1)."""
        if all(w == 1.0 for w in self.weights):
            neighbours: list = list(self.neighbours)
        else:
            neighbours = [{"id": q, "weight": w} for q, w in zip(self.neighbours, self.weights)]
        out: dict = {"id": self.id, "name": self.name}
        if self.parent is not None:
            out["parent"] = self.parent
        out["neighbours"] = neighbours
        return out

    def restricted_to(self, ids: Iterable[str]) -> Region:
        """Return a copy keeping only the neighbours whose id is in `ids`."""
        keep = set(ids)
        pairs = [(q, w) for q, w in zip(self.neighbours, self.weights) if q in keep]
        return Region(self.id, self.name, self.parent, tuple(q for q, _ in pairs), tuple(w for _, w in pairs))


def _parse_region(index: int, raw: object, errors: list[RowError], max_neighbours: int | None = None) -> Region | None:
    """Return one region dict as a Region of its well-formed neighbours, appending a RowError per problem.

    Returns None only when the entry is unusable (not a dict, bad id, neighbours not a list or more than
    `max_neighbours` of them).
    """
    if isinstance(raw, Region):
        return raw
    if not isinstance(raw, dict):
        errors.append(RowError(index, "region", f"expected a region object, got {type(raw).__name__}"))
        return None
    region_id = raw.get("id")
    if not isinstance(region_id, str) or not REGION_ID_PATTERN.fullmatch(region_id):
        shown = repr(region_id) if region_id is None or isinstance(region_id, str) else type(region_id).__name__
        errors.append(RowError(index, "id", f"region id {shown[:70]} is not a slug such as IRQ or IRQ-BAS"))
        return None
    name = raw.get("name", region_id)
    if not isinstance(name, str) or not name.strip():
        errors.append(RowError(index, "name", f"region {region_id}: name must be a non-empty string"))
        name = region_id
    parent = raw.get("parent")
    if parent is not None and not isinstance(parent, str):
        errors.append(RowError(index, "parent", f"region {region_id}: parent must be a string or null"))
        parent = None
    if parent == region_id:
        errors.append(RowError(index, "parent", f"region {region_id} names itself as its parent"))
    raw_neighbours = raw.get("neighbours", [])
    if raw_neighbours is None:
        raw_neighbours = []
    if not isinstance(raw_neighbours, (list, tuple)):
        errors.append(RowError(index, "neighbours", f"region {region_id}: neighbours must be a list"))
        return None
    if max_neighbours is not None and len(raw_neighbours) > max_neighbours:
        reason = (f"region {region_id} lists {len(raw_neighbours)} neighbours; at most {max_neighbours} are "
                  "accepted per region")
        errors.append(RowError(index, "neighbours", reason))
        return None
    neighbours, weights = _parse_neighbours(index, region_id, raw_neighbours, errors)
    return Region(region_id, name.strip(), parent, neighbours, weights)


def _parse_neighbours(
    index: int, region_id: str, raw_neighbours: Iterable, errors: list[RowError]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Return (neighbour ids, edge weights) of the well-formed entries, appending a RowError per bad one."""
    neighbours: list[str] = []
    weights: list[float] = []
    seen: set[str] = set()
    for item in raw_neighbours:
        if isinstance(item, dict):
            other, weight = item.get("id"), item.get("weight", 1.0)
        else:
            other, weight = item, 1.0
        problem = _neighbour_problem(region_id, item, other, weight, seen)
        if problem is not None:
            errors.append(RowError(index, "neighbours", problem))
            continue
        seen.add(other)
        neighbours.append(other)
        weights.append(float(weight))
    return tuple(neighbours), tuple(weights)


def _neighbour_problem(region_id: str, item: object, other: object, weight: object, seen: set[str]) -> str | None:
    """Return why one neighbour entry (id `other`, edge `weight`) cannot be kept, or None if it can."""
    if not isinstance(other, str) or not other:
        return f"region {region_id}: neighbour {item!r:.60} is not a region id"
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
        return f"region {region_id}: weight {weight!r:.30} of edge to {other} must be a positive number"
    if other == region_id:
        return f"region {region_id} lists itself as a neighbour (self-loop)"
    if other in seen:
        return f"region {region_id} lists neighbour {other} twice"
    return None


def validate_regions(
    regions: list[dict] | list[Region], *, max_neighbours: int | None = None, parents_in_list: bool = False
) -> list[Region]:
    """Return the regions as `Region` objects after checking the list is a consistent graph.

    Checks: each entry is a region dict with a slug id; no duplicate ids; every neighbour is
    in the list; no self-loops; every edge is listed by both ends (symmetric) with the same weight;
    no region is its own parent. With `max_neighbours`, a region listing more neighbours is refused
    before they are read; with `parents_in_list`, every parent must be a region of the list.
    Time and memory are linear in the total number of neighbours listed.

    Raises
    ------
    BatchRejected
        With one RowError per bad region (row = index in the list, the region id in the reason).
    """
    errors: list[RowError] = []
    parsed: list[tuple[int, Region]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(regions):
        region = _parse_region(index, raw, errors, max_neighbours)
        if region is None:
            continue
        if region.id in seen:
            errors.append(RowError(index, "id", f"duplicate region id {region.id} (first at row {seen[region.id]})"))
            continue
        seen[region.id] = index
        parsed.append((index, region))
    by_id = {region.id: region for _, region in parsed}
    listed = {rid for rid in (raw.get("id") for raw in regions if isinstance(raw, dict)) if isinstance(rid, str)}
    listed |= set(by_id)
    mentioned = _MentionedNeighbours(regions)
    for index, region in parsed:
        if parents_in_list and region.parent is not None and region.parent not in listed:
            errors.append(RowError(index, "parent", f"region {region.id}: unknown parent {region.parent[:70]!r}"))
        errors.extend(_edge_errors(index, region, by_id, listed, mentioned))
    if errors:
        merged = _one_error_per_region(errors)
        raise BatchRejected(merged, f"region list rejected: {len(merged)} bad region(s); nothing was stored")
    return [region for _, region in parsed]


def _edge_errors(
    index: int, region: Region, by_id: dict[str, Region], listed: set, mentioned: _MentionedNeighbours
) -> list[RowError]:
    """Return a RowError per edge of `region` (row `index`) to an unknown region, or not listed back the same."""
    errors = []
    for other, weight in zip(region.neighbours, region.weights):
        back = by_id.get(other)
        if back is None:
            if other not in listed:
                errors.append(RowError(index, "neighbours", f"region {region.id}: unknown neighbour {other}"))
            continue
        back_weight = back.weight_of(region.id)
        if back_weight is None and region.id in mentioned.by(other):
            continue  # the way back exists but is malformed: reported on that region only
        if back_weight is None:
            reason = f"region {region.id}: asymmetric edge, {other} does not list {region.id} back"
            errors.append(RowError(index, "neighbours", reason))
        elif back_weight != weight:
            reason = f"region {region.id}: edge weight to {other} is {weight:g} but {back_weight:g} the other way"
            errors.append(RowError(index, "neighbours", reason))
    return errors


class _MentionedNeighbours:
    """Every string id each entry lists as a neighbour, well-formed or not; read once per region, when asked."""

    def __init__(self, regions: Iterable[dict | Region]) -> None:
        self.raw_by_id = _raw_by_id(regions)
        self.found: dict[str, set[str]] = {}

    def by(self, region_id: str) -> set[str]:
        """Return the ids the first entry of `region_id` mentions as neighbours (empty if there is none)."""
        if region_id not in self.found:
            raw = self.raw_by_id.get(region_id)
            self.found[region_id] = set() if raw is None else _mentioned_neighbours(raw)
        return self.found[region_id]


def _raw_by_id(regions: Iterable[dict | Region]) -> dict[str, dict | Region]:
    """Return the first raw entry of each string id."""
    out: dict[str, dict | Region] = {}
    for raw in regions:
        rid = raw.id if isinstance(raw, Region) else raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rid, str):
            out.setdefault(rid, raw)
    return out


def _mentioned_neighbours(raw: dict | Region) -> set[str]:
    """Return every string id an entry lists as a neighbour, well-formed or not."""
    if isinstance(raw, Region):
        return set(raw.neighbours)
    items = raw.get("neighbours") or []
    if not isinstance(items, (list, tuple)):
        return set()
    ids = (item.get("id") if isinstance(item, dict) else item for item in items)
    return {rid for rid in ids if isinstance(rid, str)}


def _one_error_per_region(errors: list[RowError]) -> list[RowError]:
    """Return one RowError per row: the first problem's field, every problem's reason joined by '; '."""
    by_row: dict[int, list[RowError]] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    return [RowError(row, found[0].field, _joined_reasons(found)) for row, found in sorted(by_row.items())]


def _joined_reasons(found: list[RowError]) -> str:
    """Return the reasons of one row's errors joined by '; ', the first MAX_REASONS_PER_REGION of them and a count."""
    shown = "; ".join(e.reason for e in found[:MAX_REASONS_PER_REGION])
    if len(found) > MAX_REASONS_PER_REGION:
        shown += f"; and {len(found) - MAX_REASONS_PER_REGION} more problem(s) of this region"
    return shown


def as_regions(regions: Iterable[dict | Region]) -> list[Region]:
    """Return `regions` as Region objects, parsing dicts one by one without cross-checks.

    Raises
    ------
    BatchRejected
        If an entry is not a well-formed region on its own.
    """
    errors: list[RowError] = []
    out = []
    for index, raw in enumerate(regions):
        region = _parse_region(index, raw, errors)
        if region is not None:
            out.append(region)
    if errors:
        raise BatchRejected(errors, f"region list rejected: {len(errors)} problem(s)")
    return out


def weights_matrix(regions: list[Region] | list[dict], order: list[str], normalise: str = "target") -> np.ndarray:
    """Return the spatial weights W (len(order) x len(order)); W[q, r] = weight of source q into target r.

    Only edges with both ends in `order` are used. "target" normalises each column (target)
    to sum 1 over its neighbours; "source" normalises each row (source) to sum 1 (hhh4's
    default). A region without neighbours in `order` has an all-zero column and row.

    Raises
    ------
    UnknownRegion
        If an id in `order` is not among `regions`.
    InputError
        If `normalise` is not "target" or "source", or `order` repeats an id.
    """
    check_normalise(normalise)
    by_id = {region.id: region for region in as_regions(regions)}
    missing = [rid for rid in order if rid not in by_id]
    if missing:
        raise UnknownRegion(f"unknown region(s) in order: {', '.join(missing[:10])}")
    position = {rid: i for i, rid in enumerate(order)}
    if len(position) != len(order):
        raise InputError("order lists a region twice")
    n = len(order)
    adjacency = np.zeros((n, n))
    for r, rid in enumerate(order):
        region = by_id[rid]
        for other, weight in zip(region.neighbours, region.weights):
            q = position.get(other)
            if q is not None:
                adjacency[q, r] = weight
                adjacency[r, q] = weight  # symmetric by contract; tolerate one-sided lists
    axis = 0 if normalise == "target" else 1
    totals = adjacency.sum(axis=axis, keepdims=True)
    return np.divide(adjacency, totals, out=np.zeros_like(adjacency), where=totals > 0)


def check_normalise(normalise: str) -> str:
    """Return `normalise` if it is "target" or "source".

    Raises
    ------
    InputError
        Otherwise.
    """
    if normalise not in NORMALISATIONS:
        raise InputError(
            f"normalise must be 'target' (1/|N(r)|) or 'source' (1/|N(q)|, hhh4's default), got {normalise!r}"
        )
    return normalise


@lru_cache(maxsize=1)
def _demo_regions_text() -> str:
    """Return the text of the shipped demo region file."""
    return resources.files("indicators").joinpath("data", DEMO_REGIONS_RESOURCE).read_text(encoding="utf-8")


def load_demo_regions() -> list[dict]:
    """Return the 25 Middle East / Central Asia / Caucasus demo regions (a fresh list of dicts)."""
    return json.loads(_demo_regions_text())["regions"]

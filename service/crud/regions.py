"""Region records: upsert a batch (neighbours checked against the batch and the stored regions), list."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indicators import BatchTooLarge, Region, RowError, validate_regions
from indicators.errors import BatchRejected
from service.crud.upsert import write_upsert
from service.db.tables import Region as RegionRow
from service.db.tables import regions


def _stored_dict(row: RegionRow) -> dict:
    out = {"id": row.id, "name": row.name, "neighbours": [dict(n) for n in row.neighbours]}
    if row.parent is not None:
        out["parent"] = row.parent
    return out


def _neighbours_json(region: Region) -> list[dict]:
    return [{"id": q, "weight": w} for q, w in zip(region.neighbours, region.weights)]


def list_regions(*, session: Session, after: str | None = None, limit: int | None = None) -> list[dict]:
    """Return the regions in id order in the API dict shape (neighbours as ids, or {"id","weight"} when
    weighted): those after id `after` when given, at most `limit` when given."""
    query = select(RegionRow).order_by(RegionRow.id)
    if after is not None:
        query = query.where(RegionRow.id > after)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).scalars()
    return [Region(r.id, r.name, r.parent, tuple(n["id"] for n in r.neighbours),
                   tuple(float(n["weight"]) for n in r.neighbours)).to_dict() for r in rows]


def _remap_stored_errors(errors: list[RowError], merged: list[dict], n_batch: int) -> list[RowError]:
    """Return the errors with those about stored regions attached to the batch rows that caused them.

    A stored region's error goes to every batch row it links to or that mentions it; both links are
    indexed once, so the time is linear in the neighbours listed.
    """
    out = [e for e in errors if e.row < n_batch]
    stored_errors = [e for e in errors if e.row >= n_batch]
    if stored_errors:
        batch_rows_by_id: dict[str, list[int]] = {}
        mentioned_by: dict[str, list[int]] = {}
        for index in range(n_batch):
            batch_region = merged[index]
            batch_rows_by_id.setdefault(batch_region.get("id"), []).append(index)
            mentions = {n if isinstance(n, str) else n.get("id") for n in batch_region.get("neighbours") or []}
            for mention in mentions:
                mentioned_by.setdefault(mention, []).append(index)
        for error in stored_errors:
            stored = merged[error.row]
            rows = set(mentioned_by.get(stored["id"], ()))
            for neighbour in stored["neighbours"]:
                rows.update(batch_rows_by_id.get(neighbour["id"], ()))
            out.extend(RowError(index, "neighbours", f"stored {error.reason}; send both regions together")
                       for index in sorted(rows))
    if not out and errors:  # cannot happen with consistent stored data; never drop a reason
        out = [RowError(0, "neighbours", e.reason) for e in errors]
    return sorted(out, key=lambda e: e.row)


IN_CHUNK = 5000
"""Ids per `IN (...)` query (SQLite allows 32,766 bound values per statement)."""


def _mentions(item: dict) -> set[str]:
    """Return the ids a batch item refers to (its neighbours and parent), ignoring malformed entries."""
    out = set()
    for neighbour in item.get("neighbours") or []:
        ident = neighbour.get("id") if isinstance(neighbour, dict) else neighbour
        if isinstance(ident, str):
            out.add(ident)
    if isinstance(item.get("parent"), str):
        out.add(item["parent"])
    return out


def _stored_rows(session: Session, ids: set[str]) -> dict[str, RegionRow]:
    """Return the stored regions among `ids`, by id (read in chunks)."""
    ordered = sorted(i for i in ids if isinstance(i, str))
    rows: dict[str, RegionRow] = {}
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start:start + IN_CHUNK]
        rows.update((r.id, r) for r in session.execute(select(RegionRow).where(RegionRow.id.in_(chunk))).scalars())
    return rows


def _touched_rows(session: Session, items: list[dict]) -> dict[str, RegionRow]:
    """Return the stored regions a batch can affect: its own regions' stored versions, the regions it names
    (neighbours, parents) and the stored neighbours of its regions (the stored graph is symmetric, so these are
    all the stored regions that name a region of the batch). Nothing else is read."""
    batch_ids = {item.get("id") for item in items if isinstance(item, dict)}
    named = set().union(*(_mentions(item) for item in items if isinstance(item, dict))) if items else set()
    rows = _stored_rows(session, batch_ids | named)
    old_neighbours = {n["id"] for rid in batch_ids if rid in rows for n in rows[rid].neighbours or []}
    rows.update(_stored_rows(session, old_neighbours - set(rows)))
    return rows


def _refuse_case_collisions(session: Session, items: list[dict]) -> None:
    """Return nothing when no region id of the batch differs only in letter case from another of the batch or a
    stored one (`irq` beside `IRQ`); raises BatchRejected naming each such row's `id` otherwise."""
    ids = [(index, item.get("id")) for index, item in enumerate(items)
           if isinstance(item, dict) and isinstance(item.get("id"), str)]
    folded: dict[str, str] = {}
    for _, rid in ids:
        folded.setdefault(rid.casefold(), rid)
    lowered = sorted({rid.lower() for _, rid in ids})
    for start in range(0, len(lowered), IN_CHUNK):
        for stored in session.scalars(select(RegionRow.id).where(
                func.lower(RegionRow.id).in_(lowered[start:start + IN_CHUNK]))):
            folded[stored.casefold()] = stored
    errors = [RowError(index, "id", f"region id {rid!r} differs only in letter case from {folded[rid.casefold()]!r}; "
                                    "ids are case-sensitive, so use the same spelling")
              for index, rid in ids if folded[rid.casefold()] != rid]
    if errors:
        raise BatchRejected(errors[:100] if len(errors) > 100 else errors,
                            f"region batch rejected: {len(errors)} id(s) collide with another id but for letter case; "
                            "nothing was stored")


def upsert_regions(
    *, session: Session, items: list[dict], max_rows: int | None = None, max_neighbours: int | None = None
) -> dict[str, int]:
    """Return {"inserted","updated","unchanged"} after storing the regions in one transaction.

    Neighbours and parents must be regions of the batch or already stored, every edge listed by both ends
    with the same weight once the batch replaces the stored versions of its regions, and no region may list
    more than `max_neighbours` neighbours. Only the stored regions the batch touches are read and checked
    (`_touched_rows`): their edges to regions outside the batch are unchanged, so they are left out.

    Raises BatchTooLarge over `max_rows`, BatchRejected listing every bad region (nothing stored).
    """
    if max_rows is not None and len(items) > max_rows:
        raise BatchTooLarge(f"batch has {len(items)} regions; at most {max_rows} are accepted per batch")
    _refuse_case_collisions(session, items)
    stored_rows = _touched_rows(session, items)
    batch_ids = {item.get("id") for item in items if isinstance(item, dict)}
    present = batch_ids | set(stored_rows)
    stored_rest = []
    for rid, row in stored_rows.items():
        if rid in batch_ids:
            continue
        stored = _stored_dict(row)  # edges to regions the batch does not touch are unchanged: left out
        stored["neighbours"] = [n for n in stored["neighbours"] if n["id"] in present]
        if stored.get("parent") not in present:
            stored.pop("parent", None)
        stored_rest.append(stored)
    merged = list(items) + stored_rest
    try:
        checked = validate_regions(merged, max_neighbours=max_neighbours, parents_in_list=True)[: len(items)]
    except BatchRejected as exc:
        raise BatchRejected(_remap_stored_errors(exc.errors, merged, len(items)),
                            f"region batch rejected: {len(exc.errors)} problem(s); nothing was stored") from exc
    now = datetime.now(UTC)
    new_rows, changed_rows, unchanged = [], [], 0
    for region in checked:
        row = {"id": region.id, "name": region.name, "parent": region.parent, "neighbours": _neighbours_json(region)}
        old = stored_rows.get(region.id)
        if old is None:
            new_rows.append({**row, "updated_at": now})
        elif (old.name, old.parent, old.neighbours) == (row["name"], row["parent"], row["neighbours"]):
            unchanged += 1
        else:
            changed_rows.append({**row, "updated_at": now})
    return write_upsert(session, regions, new_rows, changed_rows, unchanged)

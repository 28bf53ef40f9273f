"""Indicator records: upsert a batch, list, and the catalogue observations are validated against."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from indicators import Catalogue, IndicatorKind, RowError
from indicators.errors import BatchRejected
from service.crud.upsert import write_upsert
from service.db.tables import Indicator, Observation, Region, indicators
from service.errors import Conflict


def list_indicators(*, session: Session) -> list[dict]:
    """Return every indicator as {"id","kind","unit","description"}, ordered by id."""
    rows = session.execute(select(Indicator).order_by(Indicator.id)).scalars()
    return [{"id": r.id, "kind": r.kind, "unit": r.unit, "description": r.description} for r in rows]


def indicator_record(*, session: Session, indicator: str) -> dict | None:
    """Return one indicator as {"id","kind","unit","description"}, or None when it is not stored."""
    row = session.get(Indicator, indicator)
    return None if row is None else {"id": row.id, "kind": row.kind, "unit": row.unit, "description": row.description}


def load_catalogue(*, session: Session) -> Catalogue:
    """Return the known region ids and indicator kinds, for validating observations."""
    region_ids = session.execute(select(Region.id)).scalars().all()
    kinds = {row.id: row.kind for row in session.execute(select(Indicator.id, Indicator.kind))}
    return Catalogue(regions=frozenset(region_ids), indicators={k: IndicatorKind(v) for k, v in kinds.items()})


def upsert_indicators(*, session: Session, items: list[dict]) -> dict[str, int]:
    """Return {"inserted","updated","unchanged"} after storing the indicators in one transaction.

    Raises BatchRejected for duplicate ids in the batch, Conflict when the kind of an indicator that
    already has observations would change (its stored values may break the new kind's rules).
    """
    seen: dict[str, int] = {}
    errors = []
    for index, item in enumerate(items):
        if item["id"] in seen:
            errors.append(RowError(index, "id",
                                   f"duplicate indicator id {item['id']} (first at row {seen[item['id']]})"))
        seen.setdefault(item["id"], index)
    if errors:
        raise BatchRejected(errors)
    stored = {r.id: r for r in session.execute(select(Indicator).where(Indicator.id.in_(list(seen)))).scalars()}
    now = datetime.now(UTC)
    new_rows, changed_rows, unchanged = [], [], 0
    for item in items:
        row = {"id": item["id"], "kind": str(item["kind"]), "unit": item.get("unit"),
               "description": item.get("description")}
        old = stored.get(row["id"])
        if old is None:
            new_rows.append({**row, "updated_at": now})
        elif (old.kind, old.unit, old.description) == (row["kind"], row["unit"], row["description"]):
            unchanged += 1
        else:
            if old.kind != row["kind"] and session.execute(
                    select(Observation.period).where(Observation.indicator_id == old.id).limit(1)).first():
                raise Conflict(f"indicator {old.id} has observations stored as kind {old.kind!r}; "
                               f"its kind cannot change to {row['kind']!r}",
                               hint="Create a new indicator id for the new kind.")
            changed_rows.append({**row, "updated_at": now})
    return write_upsert(session, indicators, new_rows, changed_rows, unchanged)

"""The write half of a catalogue upsert (regions, indicators): insert the new rows, update the changed ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session


def write_upsert(session: Session, table: Table, new_rows: list[dict[str, Any]], changed_rows: list[dict[str, Any]],
                 unchanged: int) -> dict[str, int]:
    """Return the counts {"inserted", "updated", "unchanged"} after inserting `new_rows` into `table`, updating
    `changed_rows` by their "id" and committing."""
    if new_rows:
        session.execute(insert(table), new_rows)
    for row in changed_rows:
        session.execute(update(table).where(table.c.id == row["id"]).values(**row))
    session.commit()
    return {"inserted": len(new_rows), "updated": len(changed_rows), "unchanged": unchanged}

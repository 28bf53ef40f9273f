"""Observation records: atomic bulk upsert with revision history, series reads.

`upsert_batch` splits the batch into inserted / updated / unchanged against the stored values and writes
in bulk, all in one transaction. PostgreSQL: the batch is COPYed into a temporary table, then one
INSERT ... SELECT copies the changed cells' old values into the revisions, one UPDATE ... FROM changes them,
and one INSERT ... SELECT ... ON CONFLICT DO NOTHING adds the new keys (the existing ones were handled).
SQLite: one read per indicator and executemany writes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from indicators import BatchRejected, Observation, UnknownIndicator, UnknownRegion, parse_period, validate_batch
from service.crud.indicators import load_catalogue
from service.db.tables import Indicator, Region, observation_revisions, observations
from service.errors import Conflict, NotFound, hint_for_class

WRITE_ATTEMPTS = 3
MAX_REVISIONS_PER_CELL = 100
"""Revisions kept per cell by default (FRAGILITY_MAX_REVISIONS_PER_CELL); older ones are dropped."""


@dataclass(frozen=True)
class BatchResult:
    """What a stored batch did: counts per outcome and the batch id its revisions carry."""

    inserted: int
    updated: int
    unchanged: int
    batch_id: str

    def to_dict(self) -> dict:
        """Return the result as a JSON-ready dict."""
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "batch_id": self.batch_id}


def ingest_rows(*, session: Session, rows: Sequence[Mapping], max_rows: int | None = None,
                today: date | None = None, lines: Sequence[int] | None = None,
                max_revisions_per_cell: int = MAX_REVISIONS_PER_CELL) -> BatchResult:
    """Return the result of validating raw rows against the stored catalogue and upserting them.

    `lines`: the file line of each row, for rows read from a CSV file (`read_observations_csv_lines`); the
    row errors then carry them. Raises BatchTooLarge over `max_rows`, BatchRejected listing every bad row
    (nothing stored). Each cell keeps its newest `max_revisions_per_cell` revisions (upsert_batch).
    """
    opened_here = not session.in_transaction()
    catalogue = load_catalogue(session=session)
    if opened_here:  # end the catalogue read: no pooled connection held while a large batch is validated
        session.commit()
    try:
        batch = validate_batch(rows, catalogue=catalogue, today=today, max_rows=max_rows)
    except BatchRejected as exc:
        if lines is None:
            raise
        raise exc.at_lines(list(lines)) from None
    return upsert_batch(session=session, batch=batch, max_revisions_per_cell=max_revisions_per_cell)


def _stored_values(session: Session, batch: Sequence[Observation]) -> dict[tuple[str, str, str], float]:
    """Return the stored value of every key of `batch` that exists (one query per indicator)."""
    by_indicator: dict[str, tuple[set[str], list[str]]] = defaultdict(lambda: (set(), []))
    for obs in batch:
        regions_of, periods_of = by_indicator[obs.indicator]
        regions_of.add(obs.region)
        periods_of.append(obs.period)
    c = observations.c
    stored: dict[tuple[str, str, str], float] = {}
    for indicator, (region_ids, periods) in by_indicator.items():
        query = select(c.region_id, c.period, c.value).where(
            c.indicator_id == indicator, c.region_id.in_(sorted(region_ids)),
            c.period >= min(periods), c.period <= max(periods))
        for region_id, period, value in session.execute(query):
            stored[(region_id, indicator, period)] = value
    return stored


_PG_STAGE = text("CREATE TEMP TABLE IF NOT EXISTS ff_batch (r text NOT NULL, i text NOT NULL, p text NOT NULL, "
                 "v float8 NOT NULL) ON COMMIT DELETE ROWS")
_PG_SERIALISE = text("SELECT pg_advisory_xact_lock(7274912)")
"""Batches are written one at a time: a concurrent batch with the same keys then sees this one's values and
records revisions against them (instead of racing to insert)."""
_SQLITE_TAKE_WRITE_LOCK = text("UPDATE observations SET value = value WHERE 0")
"""A no-op write: opens the write transaction (waiting on busy_timeout) before the stored values are read."""
_PG_JOIN = "o.region_id = k.r AND o.indicator_id = k.i AND o.period = k.p"
_PG_REVISIONS = text(
    "INSERT INTO observation_revisions (region_id, indicator_id, period, old_value, new_value, replaced_at, batch_id) "
    f"SELECT k.r, k.i, k.p, o.value, k.v, :now, :batch FROM ff_batch k JOIN observations o ON {_PG_JOIN} "
    "WHERE o.value <> k.v")
_PG_UPDATE = text(f"UPDATE observations o SET value = k.v, updated_at = :now, batch_id = :batch FROM ff_batch k "
                  f"WHERE {_PG_JOIN} AND o.value <> k.v")
_PG_INSERT = text(
    "INSERT INTO observations (region_id, indicator_id, period, value, updated_at, batch_id) "
    "SELECT k.r, k.i, k.p, k.v, :now, :batch FROM ff_batch k ON CONFLICT DO NOTHING")


_PRUNE_REVISIONS = text(
    "DELETE FROM observation_revisions WHERE id IN (SELECT id FROM ("
    "SELECT r.id AS id, row_number() OVER (PARTITION BY r.region_id, r.indicator_id, r.period ORDER BY r.id DESC) "
    "AS newer FROM observation_revisions r JOIN (SELECT DISTINCT region_id, indicator_id, period FROM "
    "observation_revisions WHERE batch_id = :batch) t ON r.region_id = t.region_id AND "
    "r.indicator_id = t.indicator_id AND r.period = t.period) ranked WHERE newer > :keep)")
"""Drop the revisions beyond the newest `keep` of every cell this batch revised (only those cells can exceed)."""


def _write_postgresql(session: Session, batch: Sequence[Observation], batch_id: str) -> BatchResult:
    """Stage the batch with COPY into a temporary table, then revise, update and insert with one statement each."""
    session.execute(_PG_SERIALISE)
    session.execute(_PG_STAGE)
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy("COPY ff_batch (r, i, p, v) FROM STDIN") as copy:
        for obs in batch:
            copy.write_row((obs.region, obs.indicator, obs.period, obs.value))
    stamp = {"now": datetime.now(UTC), "batch": batch_id}
    revised = session.execute(_PG_REVISIONS, stamp).rowcount
    updated = session.execute(_PG_UPDATE, stamp).rowcount
    inserted = session.execute(_PG_INSERT, stamp).rowcount
    return BatchResult(inserted, updated, len(batch) - inserted - updated, batch_id), revised > 0


def _write(session: Session, batch: Sequence[Observation], batch_id: str, keep: int) -> BatchResult:
    """Write the batch (revisions first), then drop the revisions beyond the newest `keep` of each revised cell."""
    if session.get_bind().dialect.name == "postgresql":
        result, revised = _write_postgresql(session, batch, batch_id)
    else:
        result, revised = _write_sqlite(session, batch, batch_id)
    if revised:
        session.execute(_PRUNE_REVISIONS, {"batch": batch_id, "keep": keep})
    return result


def _write_sqlite(session: Session, batch: Sequence[Observation], batch_id: str) -> tuple[BatchResult, bool]:
    session.execute(_SQLITE_TAKE_WRITE_LOCK)
    stored = _stored_values(session, batch)
    now = datetime.now(UTC)
    inserts, updates, revisions = [], [], []
    for obs in batch:
        old = stored.get((obs.region, obs.indicator, obs.period))
        if old is None:
            inserts.append({"region_id": obs.region, "indicator_id": obs.indicator, "period": obs.period,
                            "value": obs.value, "updated_at": now, "batch_id": batch_id})
        elif old != obs.value:
            updates.append({"b_region": obs.region, "b_indicator": obs.indicator, "b_period": obs.period,
                            "b_value": obs.value})
            revisions.append({"region_id": obs.region, "indicator_id": obs.indicator, "period": obs.period,
                              "old_value": old, "new_value": obs.value, "replaced_at": now, "batch_id": batch_id})
    if inserts:
        session.execute(insert(observations), inserts)
    if updates:
        c = observations.c
        statement = (update(observations)
                     .where(and_(c.region_id == bindparam("b_region"), c.indicator_id == bindparam("b_indicator"),
                                 c.period == bindparam("b_period")))
                     .values(value=bindparam("b_value"), updated_at=now, batch_id=batch_id))
        session.connection().execute(statement, updates)
        session.execute(insert(observation_revisions), revisions)
    return BatchResult(len(inserts), len(updates), len(batch) - len(inserts) - len(updates), batch_id), bool(revisions)


def upsert_batch(*, session: Session, batch: Sequence[Observation],
                 max_revisions_per_cell: int = MAX_REVISIONS_PER_CELL) -> BatchResult:
    """Return the counts after storing the validated batch in one transaction (all or nothing).

    Identical values are `unchanged`; changed values are `updated`, their old value copied to
    observation_revisions under this batch's id; a cell keeps its newest `max_revisions_per_cell` revisions (the
    older ones are dropped in the same transaction). A concurrent writer inserting the same keys makes the
    batch retry from a fresh read.

    Raises Conflict if concurrent writers keep colliding.
    """
    batch_id = uuid.uuid4().hex
    for _ in range(WRITE_ATTEMPTS):
        try:
            result = _write(session, batch, batch_id, max_revisions_per_cell)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
    raise Conflict("concurrent batches kept writing the same observations; nothing was stored",
                   hint="Resend the batch.")


def read_series(*, session: Session, region: str, indicator: str, start: str | None = None,
                end: str | None = None) -> list[tuple[str, float]]:
    """Return the (period, value) pairs of one series in period order, limited to [start, end].

    Raises NotFound for a region or indicator not stored, PeriodError for malformed bounds.
    """
    if session.get(Region, region) is None:
        raise NotFound(f"unknown region {region!r}", hint=hint_for_class(UnknownRegion))
    if session.get(Indicator, indicator) is None:
        raise NotFound(f"unknown indicator {indicator!r}", hint=hint_for_class(UnknownIndicator))
    c = observations.c
    query = select(c.period, c.value).where(c.region_id == region, c.indicator_id == indicator)
    if start is not None:
        query = query.where(c.period >= parse_period(start))
    if end is not None:
        query = query.where(c.period <= parse_period(end))
    return [(p, v) for p, v in session.execute(query.order_by(c.period))]


def read_revisions(*, session: Session, region: str, indicator: str, period: str | None = None,
                   after: tuple[str, int] | None = None, limit: int | None = None) -> list[dict]:
    """Return the revision history of one series (or of one cell with `period`), by period and then oldest first:
    period, old_value, new_value, replaced_at, batch_id (the batch that replaced old_value) and `id` (the
    revision's position, for pagination). `after` (period, id): only revisions after that one; `limit`: at most
    that many.

    Raises NotFound for a region or indicator not stored, PeriodError for a malformed period.
    """
    if session.get(Region, region) is None:
        raise NotFound(f"unknown region {region!r}", hint=hint_for_class(UnknownRegion))
    if session.get(Indicator, indicator) is None:
        raise NotFound(f"unknown indicator {indicator!r}", hint=hint_for_class(UnknownIndicator))
    c = observation_revisions.c
    query = (select(c.period, c.old_value, c.new_value, c.replaced_at, c.batch_id, c.id)
             .where(c.region_id == region, c.indicator_id == indicator))
    if period is not None:
        query = query.where(c.period == parse_period(period))
    if after is not None:
        query = query.where(or_(c.period > after[0], and_(c.period == after[0], c.id > after[1])))
    query = query.order_by(c.period, c.id)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row._mapping) for row in session.execute(query)]


def count_observations(*, session: Session) -> int:
    """Return how many observation cells are stored."""
    return session.execute(select(func.count()).select_from(observations)).scalar_one()


def count_revisions(*, session: Session) -> int:
    """Return how many revisions are stored."""
    return session.execute(select(func.count()).select_from(observation_revisions)).scalar_one()

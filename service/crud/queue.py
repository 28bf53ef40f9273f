"""The job queue on the database: enqueue, claim under a lease, heartbeat, report progress, finish, requeue,
cancel.

Every operation is one SQL statement and none commits: the caller owns the transaction (so a
worker can record a new version and finish its job atomically). A claim is one UPDATE over one
candidate row: the oldest queued job whose `run_after` has come, or a running job whose lease
expired (its worker died). On PostgreSQL the candidate is locked with FOR UPDATE SKIP LOCKED;
SQLite serialises writers, so the same statement is safe there. This is the one dialect branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db.tables import Job, RegisteredModel

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "skipped")
"""A job's statuses; "skipped" is a scheduled tick not queued because the model already had a fit queued or running."""
KINDS = ("fit", "backtest", "forecast")
jobs = Job.__table__


@dataclass(frozen=True)
class ClaimedJob:
    """A job as a worker holds it after a claim: what to run and under which attempt."""

    id: int
    kind: str
    model_id: int | None
    payload: dict
    reason: str
    attempts: int
    max_attempts: int
    worker: str
    tick: datetime | None

    @classmethod
    def from_row(cls, row) -> ClaimedJob:
        """Return the claimed job built from a `jobs` row."""
        return cls(
            id=row.id, kind=row.kind, model_id=row.model_id, payload=dict(row.payload or {}),
            reason=row.reason, attempts=row.attempts, max_attempts=row.max_attempts,
            worker=row.worker, tick=row.tick,
        )


def enqueue(
    session: Session,
    *,
    kind: str,
    model_id: int | None,
    now: datetime,
    payload: dict | None = None,
    reason: str = "explicit",
    tick: datetime | None = None,
    max_attempts: int = 3,
    run_after: datetime | None = None,
    key_id: int | None = None,
    skipped_because: str | None = None,
) -> int | None:
    """Return the id of the new queued job (runnable from `run_after`, default `now`), or None when a job
    for this (model, tick) already exists. With `skipped_because`, the row is recorded as a "skipped" job
    (ended at `now`; its result is {"skipped": true, "reason": ...}) instead: a tick that was seen but not queued."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; expected one of {KINDS}")
    values = dict(
        kind=kind, model_id=model_id, status="queued", reason=reason, tick=tick,
        payload=payload or {}, attempts=0, max_attempts=max_attempts, run_after=run_after or now, created_at=now,
        key_id=key_id,
    )
    if skipped_because is not None:
        values.update(status="skipped", finished_at=now, result={"skipped": True, "reason": skipped_because})
    dialect = session.get_bind().dialect.name
    if tick is not None and dialect in ("postgresql", "sqlite"):
        insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert_fn(jobs).values(**values).on_conflict_do_nothing(
            index_elements=["model_id", "tick"]
        )
    else:
        statement = insert(jobs).values(**values)
    row = session.execute(statement.returning(jobs.c.id)).first()
    return row.id if row else None


def lock_model(session: Session, *, model_id: int) -> None:
    """Hold the model's row until the transaction ends, so that checking its queue and enqueueing are atomic.

    A no-op UPDATE: on PostgreSQL it takes the row lock; on SQLite, as the transaction's first write, the
    database write lock (waiting for other writers). Concurrent requests for one model queue up here.
    Returns nothing.
    """
    models = RegisteredModel.__table__
    session.execute(update(models).where(models.c.id == model_id).values(updated_at=models.c.updated_at))


def pending_job(session: Session, *, model_id: int, kind: str, statuses: tuple[str, ...] = ("queued",)) -> Job | None:
    """Return the oldest job of `kind` for the model whose status is one of `statuses`, or None."""
    return session.scalars(
        select(Job).where(Job.model_id == model_id, Job.kind == kind, Job.status.in_(statuses)).order_by(Job.id)
        .limit(1)
    ).first()


def tick_recorded(session: Session, *, model_id: int, tick: datetime) -> bool:
    """Return True if a job (of any status, skipped included) already records this model's schedule `tick`."""
    return session.execute(
        select(jobs.c.id).where(jobs.c.model_id == model_id, jobs.c.tick == tick).limit(1)
    ).first() is not None


def queued_count(session: Session, *, key_id: int) -> int:
    """Return how many jobs queued by API key `key_id` have not started yet."""
    return session.execute(
        select(func.count()).select_from(jobs).where(jobs.c.key_id == key_id, jobs.c.status == "queued")
    ).scalar_one()


def runnable_condition(now: datetime):
    """Return the SQL condition of a job a worker may claim at `now`."""
    return or_(
        and_(jobs.c.status == "queued", jobs.c.run_after <= now),
        and_(jobs.c.status == "running", jobs.c.lease_until < now),
    )


def claim_next(
    session: Session, *, worker: str, lease: timedelta, now: datetime, kinds: tuple[str, ...] = KINDS
) -> ClaimedJob | None:
    """Return the oldest runnable job, now leased to `worker` with one more attempt, or None."""
    candidate = (
        select(jobs.c.id)
        .where(runnable_condition(now), jobs.c.kind.in_(kinds))
        .order_by(jobs.c.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    statement = (
        update(jobs)
        .where(jobs.c.id == candidate.scalar_subquery(), runnable_condition(now))
        .values(
            status="running", worker=worker, lease_until=now + lease, heartbeat_at=now,
            attempts=jobs.c.attempts + 1, started_at=now, finished_at=None,
        )
        .returning(*jobs.c)
    )
    row = session.execute(statement).first()
    return ClaimedJob.from_row(row) if row else None


def owned_by(job_id: int, worker: str):
    """Return the SQL condition "this job is running under `worker`'s lease"."""
    return and_(jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running")


def heartbeat(session: Session, *, job_id: int, worker: str, lease: timedelta, now: datetime) -> bool:
    """Return True if the lease was extended; False if the job is no longer this worker's."""
    result = session.execute(
        update(jobs).where(owned_by(job_id, worker)).values(lease_until=now + lease, heartbeat_at=now)
    )
    return result.rowcount == 1


def holds(session: Session, *, job_id: int, worker: str) -> bool:
    """Return True while the job is running under `worker`'s name (not cancelled, not ended, not taken over)."""
    return session.execute(select(jobs.c.id).where(owned_by(job_id, worker))).first() is not None


def report_progress(session: Session, *, job_id: int, worker: str, progress: dict) -> bool:
    """Return True if `progress` was written as the running job's result {"progress": ...} (the finishing
    transaction replaces it); False if the job is no longer this worker's."""
    outcome = session.execute(update(jobs).where(owned_by(job_id, worker)).values(result={"progress": progress}))
    return outcome.rowcount == 1


def finish(
    session: Session,
    *,
    job_id: int,
    worker: str,
    status: str,
    now: datetime,
    error: str | None = None,
    result: dict | None = None,
    version_id: int | None = None,
) -> bool:
    """Return True if the job was ended with `status`; False if it was no longer this worker's."""
    if status not in ("succeeded", "failed", "cancelled"):
        raise ValueError(f"finish needs a final status, not {status!r}")
    outcome = session.execute(
        update(jobs)
        .where(owned_by(job_id, worker))
        .values(
            status=status, finished_at=now, lease_until=None, error=error, result=result,
            version_id=version_id,
        )
    )
    return outcome.rowcount == 1


def requeue(session: Session, *, job_id: int, worker: str, run_after: datetime, error: str) -> bool:
    """Return True if the job went back to the queue to be retried at `run_after`."""
    outcome = session.execute(
        update(jobs)
        .where(owned_by(job_id, worker))
        .values(status="queued", worker=None, lease_until=None, run_after=run_after, error=error)
    )
    return outcome.rowcount == 1


def cancel(session: Session, *, job_id: int, now: datetime) -> bool:
    """Return True if a queued or running job was marked cancelled (a running one is discarded by its worker)."""
    outcome = session.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
        .values(status="cancelled", finished_at=now, lease_until=None)
    )
    return outcome.rowcount == 1

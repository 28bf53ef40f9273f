"""Database functions for jobs and backtest results (keyword-only); the queue operations are in service.crud.queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.crud import queue
from service.db.tables import Backtest, Job, ModelVersion, RegisteredModel, utc_now
from service.errors import BacktestNotFound, JobNotFound, QueueFull


def get_job(session: Session, *, job_id: int) -> Job:
    """Return the job with this id.

    Raises JobNotFound.
    """
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"no job with id {job_id}")
    return job


def list_jobs(session: Session, *, model: RegisteredModel | None, status: str | None, limit: int,
              before: int | None = None) -> list[Job]:
    """Return the newest jobs first, optionally of one model and/or one status, older than job id `before`
    when given, at most `limit`."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Job.id < before)
    if model is not None:
        query = query.where(Job.model_id == model.id)
    if status is not None:
        query = query.where(Job.status == status)
    return list(session.scalars(query).all())


QUEUE_FULL_RETRY_SECONDS = 60
"""The Retry-After of a request refused because its key's queue is full: about the time a queued job waits."""


@dataclass(frozen=True)
class FitRequested:
    """The answer to a fit request: the job that will run it, and whether it was already queued."""

    job_id: int
    already_queued: bool


def enqueue_job(
    session: Session, *, kind: str, model: RegisteredModel, max_attempts: int, payload: dict | None = None,
    key_id: int | None = None, max_queued_per_key: int | None = None,
) -> int:
    """Return the id of a new explicit job of `kind` for `model`, queued by API key `key_id`; commits.

    Raises QueueFull (nothing queued) when the key already has `max_queued_per_key` jobs queued.
    """
    queue.lock_model(session, model_id=model.id)
    job_id = _enqueue_for_key(session, kind=kind, model=model, max_attempts=max_attempts, payload=payload,
                              key_id=key_id, max_queued_per_key=max_queued_per_key)
    session.commit()
    return job_id


def request_fit(
    session: Session, *, model: RegisteredModel, max_attempts: int, key_id: int | None = None,
    max_queued_per_key: int | None = None,
) -> FitRequested:
    """Return the model's queued (not yet running) fit if it has one, else a newly queued fit; commits.

    At most one fit per model waits in the queue: asking again while one waits joins it. The model's row
    is held while its queue is read and written, so concurrent requests cannot both enqueue.

    Raises QueueFull (nothing queued) when a new fit is needed and the key's queue is full.
    """
    queue.lock_model(session, model_id=model.id)
    waiting = queue.pending_job(session, model_id=model.id, kind="fit")
    if waiting is not None:
        session.commit()
        return FitRequested(waiting.id, already_queued=True)
    job_id = _enqueue_for_key(session, kind="fit", model=model, max_attempts=max_attempts, payload=None,
                              key_id=key_id, max_queued_per_key=max_queued_per_key)
    session.commit()
    return FitRequested(job_id, already_queued=False)


def _enqueue_for_key(
    session: Session, *, kind: str, model: RegisteredModel, max_attempts: int, payload: dict | None,
    key_id: int | None, max_queued_per_key: int | None,
) -> int:
    """Return the id of a new explicit job (not committed) after checking the key's queue cap.

    Raises QueueFull when key `key_id` already has `max_queued_per_key` jobs queued.
    """
    if key_id is not None and max_queued_per_key is not None:
        queued = queue.queued_count(session, key_id=key_id)
        if queued >= max_queued_per_key:
            raise QueueFull(f"this API key has {queued} jobs queued (at most {max_queued_per_key} at once); "
                            f"the {kind} of model {model.name!r} was not queued",
                            retry_after=QUEUE_FULL_RETRY_SECONDS)
    return queue.enqueue(session, kind=kind, model_id=model.id, now=utc_now(), payload=payload or {},
                         reason="explicit", max_attempts=max_attempts, key_id=key_id)


def job_out(session: Session, job: Job) -> dict[str, Any]:
    """Return the API dict of a job: status, attempts, timings, version made and error."""
    return jobs_out(session, [job])[0]


def jobs_out(session: Session, jobs: list[Job]) -> list[dict[str, Any]]:
    """Return the API dicts of `jobs` (as `job_out`), their models' names and versions' numbers read in one
    statement each, whatever the number of jobs (none for no jobs)."""
    model_ids = {job.model_id for job in jobs if job.model_id is not None}
    version_ids = {job.version_id for job in jobs if job.version_id is not None}
    names = dict(session.execute(select(RegisteredModel.id, RegisteredModel.name)
                                 .where(RegisteredModel.id.in_(model_ids))).all()) if model_ids else {}
    numbers = dict(session.execute(select(ModelVersion.id, ModelVersion.number)
                                   .where(ModelVersion.id.in_(version_ids))).all()) if version_ids else {}
    now = utc_now()
    return [job_dict(job, names.get(job.model_id), numbers.get(job.version_id), now) for job in jobs]


def job_dict(job: Job, model_name: str | None, version: int | None, now: datetime) -> dict[str, Any]:
    """Return the API dict of a job whose model is called `model_name` and which made version `version`."""
    seconds = None
    if job.started_at and job.finished_at:
        seconds = round((job.finished_at - job.started_at).total_seconds(), 3)
    lost = worker_lost(job, now)
    return {
        "id": job.id, "kind": job.kind, "model": model_name, "status": job.status, "reason": job.reason,
        "attempts": job.attempts, "max_attempts": job.max_attempts, "worker": job.worker,
        "created_at": job.created_at, "started_at": job.started_at, "heartbeat_at": job.heartbeat_at,
        "lease_until": job.lease_until, "finished_at": job.finished_at, "seconds": seconds,
        "version": version, "error": job.error, "result": job.result,
        "worker_lost": lost is not None, "detail": lost,
    }


def worker_lost(job: Job, now: datetime) -> str | None:
    """Return what happened to a running job whose worker stopped renewing its lease (killed, hung, cut off from
    the database) and what comes next; None while the job is not running or its lease holds."""
    if job.status != "running" or job.lease_until is None or job.lease_until >= now:
        return None
    since = f"worker {job.worker} lost: it stopped renewing the job's lease, which expired at " \
            f"{job.lease_until.isoformat(timespec='seconds')}"
    if job.attempts >= job.max_attempts:
        return f"{since}; this was attempt {job.attempts} of {job.max_attempts}, so the next worker to claim it " \
               "marks it failed"
    return f"{since}; attempt {job.attempts + 1} of {job.max_attempts} starts when a worker claims it"


def version_files(session: Session) -> list[str]:
    """Return the artifact keys every stored version references (posterior and paths files)."""
    rows = session.execute(select(ModelVersion.posterior_file, ModelVersion.paths_file)).all()
    return [key for row in rows for key in row if key]


def job_states(session: Session, *, job_ids: list[int]) -> dict[int, tuple[str, int]]:
    """Return {job id: (status, attempts)} of those of `job_ids` that exist."""
    if not job_ids:
        return {}
    rows = session.execute(select(Job.id, Job.status, Job.attempts).where(Job.id.in_(job_ids))).all()
    return {row.id: (row.status, row.attempts) for row in rows}


def backtest_out(session: Session, *, job_id: int) -> dict[str, Any]:
    """Return the API dict of a backtest job with its scores once it has them.

    Raises BacktestNotFound.
    """
    job = session.get(Job, job_id)
    if job is None or job.kind != "backtest":
        raise BacktestNotFound(f"no backtest job with id {job_id}")
    model_name = session.scalars(select(RegisteredModel.name).where(RegisteredModel.id == job.model_id)).first()
    stored = session.get(Backtest, job_id)
    payload = job.payload or {}
    return {
        "id": job.id, "model": model_name, "status": job.status,
        "origins": payload.get("origins"), "step": payload.get("step", 1), "horizon": payload.get("horizon"),
        "scores": stored.scores if stored else [], "by_region": stored.by_region if stored else [],
        "failures": (job.result or {}).get("failures", []), "error": job.error,
    }


def store_backtest(session: Session, *, job_id: int, model_id: int, origins: int, step: int, horizon: int,
                   scores: list[dict[str, Any]], by_region: list[dict[str, Any]]) -> None:
    """Store (or replace) the scores of backtest job `job_id`; does not commit; returns nothing."""
    session.merge(Backtest(job_id=job_id, model_id=model_id, origins=origins, step=step, horizon=horizon,
                           scores=scores, by_region=by_region, created_at=utc_now()))

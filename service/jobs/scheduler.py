"""Scheduled refits: on each pass, enqueue a fit for the latest cron tick of every scheduled model.

A tick is skipped (kept as a job row with status "skipped") while the model has a fit queued or running.
The scheduler also sweeps orphaned attempt folders out of the artifact store (service.jobs.sweep).

The job row carries the tick; the unique (model_id, tick) key makes the database refuse a second
enqueue of the same tick, so any number of schedulers (service replicas) on one database enqueue
one job per tick. Ticks missed while no scheduler ran are not replayed: the latest one catches up.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from croniter import croniter
from sqlalchemy.exc import OperationalError

from service.crud import queue
from service.crud.models import scheduled_models
from service.db.engine import Database
from service.db.tables import utc_now
from service.jobs.sweep import sweep_orphans
from service.serving.artifacts import settings_store
from service.settings import Settings

log = logging.getLogger("fragility.scheduler")


def latest_tick(schedule: str, now: datetime) -> datetime:
    """Return the latest tick of the cron `schedule` at or before `now` (UTC, aware)."""
    now = now.astimezone(UTC)
    if croniter.match(schedule, now.replace(second=0, microsecond=0)) and now.second == 0 and now.microsecond == 0:
        return now
    return croniter(schedule, now).get_prev(datetime).astimezone(UTC)


def enqueue_due(database: Database, *, now: datetime, max_attempts: int,
                max_queued_per_key: int | None = None) -> list[int]:
    """Return the ids of the refit jobs this pass enqueued (ticks already recorded by anyone are passed over).

    A tick that comes while the model has a fit queued or running is recorded as a "skipped" job naming
    that fit, not queued: a model never has more than one fit waiting, however often it ticks. A refit is
    queued in the name of the model's owner (the key that created it) and counts against that key's queue
    cap: a tick that comes while the owner already has `max_queued_per_key` jobs queued is "skipped" too.
    """
    created: list[int] = []
    with database.session() as session:
        for model_id, name, schedule, created_at, owner in scheduled_models(session):
            tick = latest_tick(schedule, now)
            if tick < created_at or queue.tick_recorded(session, model_id=model_id, tick=tick):
                continue
            queue.lock_model(session, model_id=model_id)
            busy = queue.pending_job(session, model_id=model_id, kind="fit", statuses=("queued", "running"))
            skipped = None if busy is None else f"fit job {busy.id} of this model was {busy.status}; not queued again"
            if skipped is None and owner is not None and max_queued_per_key is not None:
                queued = queue.queued_count(session, key_id=owner)
                if queued >= max_queued_per_key:
                    skipped = (f"the model's owner key already has {queued} jobs queued, at most "
                               f"{max_queued_per_key} (FRAGILITY_MAX_QUEUED_JOBS_PER_KEY); not queued")
            job_id = queue.enqueue(session, kind="fit", model_id=model_id, now=now, reason="scheduled",
                                   tick=tick, max_attempts=max_attempts, run_after=tick, skipped_because=skipped,
                                   key_id=owner)
            session.commit()
            if job_id is not None and skipped is None:
                created.append(job_id)
                log.info("scheduled refit of %s for tick %s: job %s", name, tick.isoformat(), job_id)
            elif job_id is not None:
                log.info("scheduled refit of %s for tick %s skipped: %s", name, tick.isoformat(), skipped)
    return created


class Scheduler:
    """Runs `enqueue_due` every `settings.scheduler_interval_seconds` until stopped."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def run_pass(self) -> list[int]:
        """Return the ids of the jobs one pass enqueued."""
        return enqueue_due(self.database, now=utc_now(), max_attempts=self.settings.job_max_attempts,
                           max_queued_per_key=self.settings.max_queued_jobs_per_key)

    def sweep(self) -> list[str]:
        """Return the keys of the orphaned attempt folders removed from the artifact store (service.jobs.sweep)."""
        return sweep_orphans(self.database, settings_store(self.settings), now=time.time(),
                             min_age_seconds=60 * self.settings.orphan_artifact_minutes)

    def run(self, stop: threading.Event) -> None:
        """Run passes until `stop` is set, and a sweep of orphaned artifacts every `artifact_sweep_seconds`;
        returns nothing."""
        swept = -float("inf")
        while not stop.is_set():
            try:
                self.run_pass()
            except OperationalError as exc:
                log.warning("scheduler pass failed", extra={"error": str(exc)})
            except Exception:  # a bad schedule row must not end the loop
                log.exception("scheduler pass error; continuing")
            if time.monotonic() - swept >= self.settings.artifact_sweep_seconds:
                swept = time.monotonic()
                try:
                    self.sweep()
                except Exception:  # an unreachable store or database: next sweep
                    log.exception("artifact sweep error; continuing")
            stop.wait(self.settings.scheduler_interval_seconds)

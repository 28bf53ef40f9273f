"""A worker: claim a job under a lease, keep the lease alive with heartbeats, run it, end it in one place.

`fragility worker` runs one alone, `fragility serve` one inside the API process: both through `run_worker`.
A worker killed mid-job leaves its lease to expire; another worker then claims the job again
(attempts + 1); its pool processes die with it (service.executors.die_with_parent). A worker whose lease was
taken over records nothing: `finish` only matches a job still running under its name, in the same transaction
as the rows it writes. A worker checks every FRAGILITY_JOB_CHECK_SECONDS that its job is still its own; when it
was cancelled or taken over, the worker stops the computation (`Executor.stop`: the pool's processes killed and
replaced) and removes the attempt's files (service.jobs.sweep), so the next job starts on a free pool at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from service.crud import queue
from service.db.engine import Database
from service.db.tables import utc_now
from service.errors import hint_for
from service.executors import Executor, make_executor
from service.jobs.handlers import HANDLERS, JobContext, LeaseLost
from service.jobs.retry import RetryStrategy
from service.jobs.sweep import remove_attempt
from service.serving.artifacts import settings_store
from service.settings import Settings

log = logging.getLogger("fragility.worker")


def default_name() -> str:
    """Return a worker name unique on this machine: host, pid and a thread-free counter."""
    return f"{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns() % 1_000_000}"


class Heartbeat(threading.Thread):
    """Extends a job's lease every third of the lease and, every `check_seconds` between, checks that the job
    is still ours; sets `lost` as soon as it is not (cancelled, or taken over by another worker)."""

    def __init__(self, database: Database, job: queue.ClaimedJob, lease: timedelta, lost: threading.Event,
                 check_seconds: float = 2.0) -> None:
        super().__init__(name=f"heartbeat-{job.id}", daemon=True)
        self.database, self.job, self.lease, self.lost = database, job, lease, lost
        self.check_seconds = check_seconds
        self.done = threading.Event()

    def run(self) -> None:
        """Beat and check until `stop()`; returns nothing."""
        beat_every = max(0.5, self.lease.total_seconds() / 3)
        check_every = min(beat_every, self.check_seconds)
        last_beat = time.monotonic()
        while not self.done.wait(check_every):
            beat = time.monotonic() - last_beat >= beat_every - check_every / 2
            try:
                with self.database.session() as session:
                    if beat:
                        alive = queue.heartbeat(session, job_id=self.job.id, worker=self.job.worker,
                                                lease=self.lease, now=utc_now())
                    else:
                        alive = queue.holds(session, job_id=self.job.id, worker=self.job.worker)
                    session.commit()
            except OperationalError as exc:  # a busy or unreachable database: try again next time
                log.warning("heartbeat failed", extra={"job_id": self.job.id, "error": str(exc)})
                continue
            if beat:
                last_beat = time.monotonic()
            if not alive:
                self.lost.set()
                return

    def stop(self) -> None:
        """Stop beating; returns nothing."""
        self.done.set()


class Worker:
    """Runs jobs from the queue on an executor, one at a time."""

    def __init__(self, database: Database, settings: Settings, *, executor: Executor | None = None,
                 name: str | None = None) -> None:
        self.database = database
        self.settings = settings
        self.executor = executor
        self.name = name or default_name()
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.strategy = RetryStrategy(max_attempts=settings.job_max_attempts)

    def ensure_executor(self) -> Executor:
        """Return the executor, made from the settings on first use."""
        if self.executor is None:
            self.executor = make_executor(self.settings)
        return self.executor

    def claim(self) -> queue.ClaimedJob | None:
        """Return the next job claimed under this worker's lease, or None when nothing is runnable."""
        with self.database.session() as session:
            job = queue.claim_next(session, worker=self.name, lease=self.lease, now=utc_now())
            session.commit()
            return job

    def run_once(self) -> int | None:
        """Return the id of the job claimed and ended (succeeded, failed or requeued), or None if none was runnable."""
        job = self.claim()
        if job is None:
            return None
        began = time.perf_counter()
        if job.attempts > job.max_attempts:
            self.end(job, "failed", error=f"gave up: the worker running it was lost {job.attempts - 1} time(s) "
                     "(lease expired each time)", began=began)
            return job.id
        context = JobContext(self.database, self.settings, self.ensure_executor())
        beat = Heartbeat(self.database, job, self.lease, context.lease_lost, self.settings.job_check_seconds)
        beat.start()
        try:
            outcome = HANDLERS[job.kind](context, job)
        except LeaseLost as exc:
            self.abandon(job, exc)
            return job.id
        except Exception as exc:  # every failure is decided in one place: retry or fail
            beat.stop()
            self.fail(job, exc, began)
            return job.id
        finally:
            beat.stop()
        try:
            self.succeed(job, outcome, began)
        except Exception as exc:  # recording failed (e.g. a version-number race): retry or fail the job
            self.fail(job, exc, began)
        return job.id

    def abandon(self, job: queue.ClaimedJob, reason: LeaseLost) -> None:
        """Stop the computation of a job that was cancelled or whose lease was lost, and remove the files its
        attempt wrote once nothing can write there any more; returns nothing."""
        stopped = self.ensure_executor().stop()
        removed: list[str] = []
        try:
            if stopped:
                removed = remove_attempt(self.database, settings_store(self.settings), job.id, job.attempts)
        except Exception as exc:  # the store or the database is away: the scheduler's sweep removes them later
            log.warning("abandoned attempt's files not removed", extra={"job_id": job.id, "error": str(exc)})
        log.warning("job abandoned: %s; computation %s; %d attempt folder(s) removed", reason,
                    "killed" if stopped else "left to end by itself (this executor cannot stop a running task)",
                    len(removed), extra={"job_id": job.id, "reason": str(reason)})

    def succeed(self, job: queue.ClaimedJob, outcome, began: float) -> None:
        """Record the outcome and end the job as succeeded in one transaction; returns nothing."""
        with self.database.session() as session:
            version_id, extra = (None, {})
            if outcome.record is not None:
                version_id, extra = outcome.record(session)
            ended = queue.finish(session, job_id=job.id, worker=self.name, status="succeeded", now=utc_now(),
                                 result={**outcome.result, **extra}, version_id=version_id)
            if not ended:
                session.rollback()
                log.warning("job result discarded: lease lost", extra={"job_id": job.id})
                return
            session.commit()
        self.log_outcome(job, "succeeded", began)

    def fail(self, job: queue.ClaimedJob, exc: BaseException, began: float) -> None:
        """Requeue the job for a retry or end it as failed, with the error text; returns nothing."""
        message = f"{type(exc).__name__}: {exc}"
        hint = hint_for(exc)
        if hint:
            message += f" (hint: {hint})"
        decision = self.strategy.decide(attempts=job.attempts, error=exc, now=utc_now())
        if not decision.retry:
            log.error("job failed", extra={"job_id": job.id, "trace": "".join(traceback.format_exception(exc))})
            self.end(job, "failed", error=f"{message}; {decision.reason}", began=began)
            return
        with self.database.session() as session:
            queue.requeue(session, job_id=job.id, worker=self.name, run_after=decision.run_after,
                          error=f"{message}; {decision.reason}")
            session.commit()
        self.log_outcome(job, "requeued", began)

    def end(self, job: queue.ClaimedJob, status: str, *, error: str | None, began: float) -> None:
        """End the job with `status` and `error`; returns nothing."""
        with self.database.session() as session:
            queue.finish(session, job_id=job.id, worker=self.name, status=status, now=utc_now(), error=error)
            session.commit()
        self.log_outcome(job, status, began)

    def log_outcome(self, job: queue.ClaimedJob, status: str, began: float) -> None:
        """Log the one line that says how a job attempt ended; returns nothing."""
        log.info("job %s %s %s after %.1f s (attempt %d)", job.id, job.kind, status,
                 time.perf_counter() - began, job.attempts,
                 extra={"job_id": job.id, "kind": job.kind, "status": status, "attempt": job.attempts})

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Run jobs until `stop` is set, sleeping `poll_seconds` when the queue is empty; returns nothing."""
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                ran = self.run_once()
            except OperationalError as exc:  # database busy or away: back off and retry
                log.warning("worker could not reach the database", extra={"error": str(exc)})
                ran = None
            except Exception:  # never let one bad job end the worker loop
                log.exception("worker loop error; continuing")
                ran = None
            if ran is None:
                stop.wait(poll_seconds)
        log.info("worker %s stopped", self.name)

    def close(self) -> None:
        """Release the executor; returns nothing."""
        if self.executor is not None:
            self.executor.close()


def run_worker(settings: Settings, stop: threading.Event, *, poll_seconds: float = 1.0) -> None:
    """Run one worker on its own database engine until `stop` is set, then release both; returns nothing.

    The one worker start-up: `fragility worker` (via `run_worker_until_signalled`) and the worker
    embedded in `fragility serve` (`service.runtime`) both call it.
    """
    database = Database(settings.database_url, settings.db)
    worker = Worker(database, settings)
    try:
        worker.run(stop, poll_seconds=poll_seconds)
    finally:
        worker.close()
        database.dispose()


def run_worker_until_signalled(settings: Settings, *, poll_seconds: float = 1.0) -> None:
    """Run `run_worker` in this process until SIGINT or SIGTERM, logging to stderr; returns nothing."""
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run_worker(settings, stop, poll_seconds=poll_seconds)

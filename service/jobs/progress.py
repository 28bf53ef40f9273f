"""Progress of a backtest job whose (forecaster, origin) tasks run on several executor workers at once.

Each finished task logs one line ("backtest job 7: model at 2019-10 done on tcp://10.0.0.5:40211 in 31.2 s;
tasks 3/8, origins 1/4 done") and rewrites the running job's `result` to {"progress": {...}}, which
GET /v1/jobs/{id} shows until the job's final result replaces it. An origin is done when every forecaster
has finished there, whichever worker ran each.
"""

from __future__ import annotations

import logging
from collections import Counter

from service.crud import queue
from service.db.engine import Database

log = logging.getLogger("fragility.worker")


class BacktestProgress:
    """A `run_backtest` progress callback: counts tasks and origins done per worker, logs and records them."""

    def __init__(self, database: Database, job: queue.ClaimedJob, origins: list[str], forecasters: list[str]) -> None:
        self.database, self.job = database, job
        self.origins = list(origins)
        self.waiting = {origin: len(forecasters) for origin in origins}
        self.by_worker: Counter[str] = Counter()
        self.failed = 0

    def snapshot(self, done: int, total: int) -> dict:
        """Return the progress record: tasks and origins done, tasks per worker, failed tasks."""
        origins_done = [origin for origin in self.origins if self.waiting[origin] == 0]
        return {"tasks_done": done, "tasks": total, "origins_done": len(origins_done),
                "origins": len(self.origins), "origins_finished": origins_done,
                "tasks_by_worker": dict(sorted(self.by_worker.items())), "tasks_failed": self.failed}

    def __call__(self, done: int, total: int, outcome) -> None:
        """Record one finished task (a models.evaluation.backtest.TaskOutcome); returns nothing."""
        worker = outcome.worker or "a lost worker"
        self.waiting[outcome.origin] -= 1
        self.by_worker[worker] += 1
        self.failed += outcome.error is not None
        progress = self.snapshot(done, total)
        verb = "failed" if outcome.error else "done"
        log.info("backtest job %d: %s at %s %s on %s in %.1f s; tasks %d/%d, origins %d/%d done", self.job.id,
                 outcome.forecaster, outcome.origin, verb, worker, outcome.seconds, done, total,
                 progress["origins_done"], progress["origins"], extra={"job_id": self.job.id, "worker": worker})
        try:
            with self.database.session() as session:
                queue.report_progress(session, job_id=self.job.id, worker=self.job.worker, progress=progress)
                session.commit()
        except Exception as exc:  # progress is a courtesy: a busy database must not fail the backtest
            log.warning("backtest progress not recorded", extra={"job_id": self.job.id, "error": str(exc)})

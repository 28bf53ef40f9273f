"""What each job kind does on the service side: read its inputs from the database, hand plain values
to the executor, and return an `Outcome` whose `record` writes the results in the worker's
finishing transaction (so a job that lost its lease records nothing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from indicators.errors import InputError
from service.crud.jobs import store_backtest
from service.crud.models import check_fit_size, load_fit_inputs, model_by_id, model_config, spec_hash
from service.crud.queue import ClaimedJob
from service.crud.versions import add_version, last_promoted, next_version_number, version_by_number
from service.db.engine import Database
from service.db.tables import ModelVersion, utc_now
from service.executors import Executor
from service.jobs import tasks
from service.jobs.progress import BacktestProgress
from service.serving.artifacts import attempt_prefix, settings_store
from service.serving.covariate_sources import covariate_sources
from service.serving.registry import promote
from service.settings import Settings


class LeaseLost(Exception):
    """The job's lease was taken over (the worker was too slow) or the job was cancelled."""


@dataclass
class Outcome:
    """The result of running a job: a JSON `result` and, optionally, a `record(session)` writing rows
    and returning (version id or None, extra result keys)."""

    result: dict[str, Any]
    record: Callable[[Session], tuple[int | None, dict[str, Any]]] | None = None


@dataclass
class JobContext:
    """What a handler may use: the database, the settings, the executor and the lease-lost flag."""

    database: Database
    settings: Settings
    executor: Executor
    lease_lost: threading.Event = field(default_factory=threading.Event)

    def wait(self, future, poll_seconds: float = 0.25) -> Any:
        """Return the future's result; raises LeaseLost if the lease is lost while waiting."""
        while not future.done():
            if self.lease_lost.is_set():
                raise LeaseLost("the job's lease was lost or the job was cancelled; its result is discarded")
            time.sleep(poll_seconds)
        return future.result()


def read_model(ctx: JobContext, job: ClaimedJob) -> tuple[dict, Any, list[dict], ModelVersion | None, dict]:
    """Return (model config, observation frame, region dicts, served version row or None, covariate sources)
    of a job's model. Raises InputError when the model no longer exists or has no data.
    """
    with ctx.database.session() as session:
        model = model_by_id(session, job.model_id)
        if model is None:
            raise InputError(f"job {job.id}: its model no longer exists")
        config = model_config(model)
        frame, regions = load_fit_inputs(session, config=config)
        # a model stored before the limits (or with regions chosen at the fit) is checked before any work
        check_fit_size({**config, "regions": [r["id"] for r in regions]}, **ctx.settings.fit_limits())
        sources = covariate_sources(session, config, settings_store(ctx.settings))
        return config, frame, regions, last_promoted(session, model.id), sources


def run_fit(ctx: JobContext, job: ClaimedJob) -> Outcome:
    """Return the outcome of a fit job: a new version (promoted if it passes the gate) or a skip."""
    config, frame, regions, served, sources = read_model(ctx, job)
    config_hash = spec_hash(config)
    if job.reason == "scheduled" and served is not None and served.spec_hash == config_hash:
        data_hash = tasks.build_panel(frame, regions, config["normalise"]).content_hash()
        if data_hash == served.data_hash:
            reason = f"skipped: data hash and model spec unchanged since version {served.number}"
            return Outcome({"skipped": True, "reason": reason, "version": served.number})
    prefix = attempt_prefix(config["name"], job.id, job.attempts)
    gate_thresholds = ctx.settings.gate.thresholds()
    record = ctx.wait(ctx.executor.submit(tasks.fit_task, frame, regions, config, gate_thresholds,
                                          settings_store(ctx.settings), prefix, sources))

    def write(session: Session) -> tuple[int, dict[str, Any]]:
        number = next_version_number(session, job.model_id)
        version = add_version(
            session, model_id=job.model_id, number=number, job_id=job.id, created_at=utc_now(),
            data_hash=record.data_hash, spec_hash=config_hash, spec=record.spec,
            sampler=config["sampler"], regions=record.regions, last_period=record.last_period,
            diagnostics={**record.diagnostics, "gate": ctx.settings.gate.model_dump()},  # its limits
            gate_passed=record.gate_passed, gate_reasons=record.gate_reasons,
            posterior_file=record.posterior_file, posterior_sha256=record.posterior_sha256,
            **(record.paths.columns() if record.paths else {}),
        )
        promoted = bool(version.gate_passed and version.paths_file)
        if promoted:
            promote(session, version=version, now=utc_now())
        return version.id, {"version": number, "promoted": promoted, "gate": {
            "passed": record.gate_passed, "reasons": record.gate_reasons},
            "task_seconds": record.task_seconds, "task_pid": record.pid,
            "covariates_mode": record.paths.covariates_mode if record.paths else None,
            "covariates": record.paths.covariates if record.paths else None}

    return Outcome({"skipped": False}, write)


def run_forecast(ctx: JobContext, job: ClaimedJob) -> Outcome:
    """Return the outcome of a forecast job: the stored paths of a gate-passing version simulated again
    from its (checksum-verified) posterior; a version broken only by its paths serves again."""
    number = int(job.payload.get("version", 0))
    with ctx.database.session() as session:
        model = model_by_id(session, job.model_id)
        version = version_by_number(session, job.model_id, number)
        if model is None or version is None:
            raise InputError(f"job {job.id}: model or version {number} no longer exists")
        if not version.gate_passed:
            raise InputError(f"version {number} did not pass the gate; its paths are never served")
        store = settings_store(ctx.settings)
        posterior = {"file": version.posterior_file, "sha256": version.posterior_sha256,
                     "what": f"posterior of {model.name} v{number}"}
        store.verify(posterior["file"], posterior["sha256"], what=posterior["what"])
        horizon, seed, name = model.horizon, int(version.sampler.get("seed", 1)), model.name
        sources = covariate_sources(session, model_config(model), store)
    prefix = attempt_prefix(name, job.id, job.attempts)
    record = ctx.wait(ctx.executor.submit(tasks.forecast_paths_task, posterior, horizon, seed, store, prefix, sources))

    def write(session: Session) -> tuple[int, dict[str, Any]]:
        row = version_by_number(session, job.model_id, number)
        for column, value in record.columns().items():
            setattr(row, column, value)
        row.broken = None
        if row.promoted_at is None:
            row.promoted_at = utc_now()
        return row.id, {"version": number, "paths_horizon": record.paths_horizon}

    return Outcome({}, write)


def run_backtest_job(ctx: JobContext, job: ClaimedJob) -> Outcome:
    """Return the outcome of a backtest job: scores of the model, the model without spillover and baselines.

    Every (forecaster, origin) is one task on the executor (the process pool, or the Dask cluster), all submitted
    at once, so origins run side by side on as many workers as there are; each finished task is logged and
    counted in the job's progress (service.jobs.progress). The result lists where and when each task ran.
    """
    from models.evaluation.backtest import origins_for, run_backtest

    config, frame, regions, _, sources = read_model(ctx, job)
    origins_n, step, horizon = int(job.payload["origins"]), int(job.payload.get("step", 1)), int(job.payload["horizon"])
    panel = tasks.build_panel(frame, regions, config["normalise"])
    origins = origins_for(panel, config["indicator"], origins_n, step, horizon)
    families = {name: source["family"] for name, source in sources.items() if "posterior" in source}
    forecasters = tasks.backtest_forecasters(config, families)
    report = BacktestProgress(ctx.database, job, origins, list(forecasters))

    def progress(done: int, total: int, outcome) -> None:
        report(done, total, outcome)
        if ctx.lease_lost.is_set():  # stop waiting for the other tasks: nothing of this attempt is recorded
            raise LeaseLost("the job's lease was lost or the job was cancelled; its result is discarded")

    result = run_backtest(panel, config["indicator"], forecasters, origins, horizon, submit=ctx.executor.submit,
                          progress=progress, seed=int(config["sampler"].get("seed", 0)))
    if ctx.lease_lost.is_set():
        raise LeaseLost("the job's lease was lost or the job was cancelled; its result is discarded")
    data = tasks.json_value(result.to_dict())

    def write(session: Session) -> tuple[None, dict[str, Any]]:
        store_backtest(session, job_id=job.id, model_id=job.model_id, origins=origins_n, step=step, horizon=horizon,
                       scores=data["scores"], by_region=data["by_region"])
        return None, {"origins": data["origins"], "failures": data["failures"], "seconds": data["seconds"],
                      "tasks": data["tasks"], "workers": sorted({t["worker"] for t in data["tasks"]})}

    return Outcome({}, write)


HANDLERS: dict[str, Callable[[JobContext, ClaimedJob], Outcome]] = {
    "fit": run_fit, "forecast": run_forecast, "backtest": run_backtest_job,
}

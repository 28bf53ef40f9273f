"""API shapes of jobs and backtests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobAccepted(BaseModel):
    """The id of a job that was queued, or (fits only) of the model's fit that was already waiting."""

    job_id: int
    already_queued: bool = Field(default=False, description=(
        "true when the model already had a fit queued (not yet running): this request joined it (200), "
        "no second fit was queued"))
    detail: str | None = None


class JobOut(BaseModel):
    """A job: kind, status, attempts, timings, the version it made (fits) and its error if it failed.

    Status is queued, running, succeeded, failed, cancelled or skipped (a scheduled tick not queued because
    the model already had a fit queued or running; `result.reason` says which). A running job whose worker
    died has `worker_lost` true and a `detail` until another worker claims it."""

    id: int
    kind: str
    model: str | None
    status: str
    reason: str
    attempts: int
    max_attempts: int
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    lease_until: datetime | None
    finished_at: datetime | None
    seconds: float | None
    version: int | None
    error: str | None
    result: dict[str, Any] | None
    worker_lost: bool = Field(default=False, description=(
        "true when the job is `running` but its worker stopped renewing the lease (killed, hung or cut off): "
        "nothing computes it until a worker claims it again; `detail` says which attempt comes next"))
    detail: str | None = Field(default=None, description="what happened to a lost worker's job and what comes next")


class JobListOut(BaseModel):
    """Jobs, newest first, with the count; `model` is set (and only then shown) when one model's jobs are listed."""

    model: str | None = None
    data: list[JobOut]
    count: int
    next_cursor: str | None = Field(default=None, description=(
        "pass as `cursor` for the next page; null: this was the last page"))


class BacktestIn(BaseModel):
    """A rolling-origin backtest: `origins` fits `step` months apart, each forecasting `horizon` months."""

    model_config = ConfigDict(extra="forbid")

    origins: int = Field(ge=1, le=60)
    step: int = Field(default=1, ge=1, le=60)
    horizon: int = Field(ge=1, le=36)


class BacktestOut(BaseModel):
    """A backtest job and, once it succeeded, scores per forecaster and horizon and per region."""

    id: int
    model: str
    status: str
    origins: int
    step: int
    horizon: int
    scores: list[dict[str, Any]]
    by_region: list[dict[str, Any]]
    failures: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None

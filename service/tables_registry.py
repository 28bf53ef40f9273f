"""SQLAlchemy 2 tables of the registry side: models, versions, jobs (with schedule ticks), backtests.

Times are stored as naive UTC (`UTCDateTime` strips and restores the zone) so that SQLite and
PostgreSQL compare leases the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

from service.tables import Base


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Return `value` as naive UTC for storage."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        """Return the stored naive UTC value as an aware datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class RegisteredModel(Base):
    """A model definition: family, indicator, regions, covariates, schedule and sampler settings."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    family: Mapped[str] = mapped_column(String(20))
    indicator: Mapped[str] = mapped_column(String(100))
    regions: Mapped[list] = mapped_column(JSON, default=list)
    covariates: Mapped[list] = mapped_column(JSON, default=list)
    spillover: Mapped[bool] = mapped_column(Boolean, default=True)
    normalise: Mapped[str] = mapped_column(String(10), default="target")
    horizon: Mapped[int] = mapped_column(Integer, default=12)
    schedule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sampler: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class ModelVersion(Base):
    """One fit of a model: data snapshot, diagnostics, gate verdict, artifacts and their checksums."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "number", name="uq_model_versions_model_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    data_hash: Mapped[str] = mapped_column(String(64))
    spec_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    sampler: Mapped[dict] = mapped_column(JSON, default=dict)
    regions: Mapped[list] = mapped_column(JSON, default=list)
    last_period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    diagnostics: Mapped[dict] = mapped_column(JSON, default=dict)
    gate_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    gate_reasons: Mapped[list] = mapped_column(JSON, default=list)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    broken: Mapped[str | None] = mapped_column(Text, nullable=True)
    posterior_file: Mapped[str] = mapped_column(String(500))
    posterior_sha256: Mapped[str] = mapped_column(String(64))
    paths_file: Mapped[str | None] = mapped_column(String(500), nullable=True)
    paths_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    paths_horizon: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paths_draws: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paths_seed: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Job(Base):
    """A unit of background work (fit, backtest, forecast) claimed by a worker under a lease.

    `tick` is set on scheduled refits; the unique (model_id, tick) key lets only one of several
    schedulers enqueue a given tick.
    """

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("model_id", "tick", name="uq_jobs_model_tick"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    reason: Mapped[str] = mapped_column(String(20), default="explicit")
    tick: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Backtest(Base):
    """Scores of one backtest job: per forecaster and horizon, and per region."""

    __tablename__ = "backtests"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    origins: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    horizon: Mapped[int] = mapped_column(Integer)
    scores: Mapped[list] = mapped_column(JSON, default=list)
    by_region: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

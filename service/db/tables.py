"""SQLAlchemy 2 tables of the service, all on one `Base.metadata` (which Alembic compares against).

Data side: regions, indicators, observations, revisions, API keys. Registry side: models, versions,
jobs (with schedule ticks), backtests. Registry times are stored as naive UTC (`UTCDateTime` strips
and restores the zone) so that SQLite and PostgreSQL compare leases the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base holding the one metadata of the service."""

    metadata = MetaData(naming_convention=NAMING)


class Region(Base):
    """A region (country, province, group); `neighbours` is a list of {"id", "weight"} kept symmetric."""

    __tablename__ = "regions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(64))
    neighbours: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Indicator(Base):
    """An indicator series kind: `count`, `share` or `amount`, with unit and description."""

    __tablename__ = "indicators"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Observation(Base):
    """The current value of one (region, indicator, period) cell; older values live in revisions.

    The key (region, indicator, period) is the primary key; region_id and indicator_id carry no foreign
    keys on purpose: every batch is validated against the
    catalogue read in the same transaction, regions and indicators are never deleted, and on PostgreSQL the
    per-row FK triggers cost two thirds of bulk-ingest time (measured: 2.9 s vs 1.0 s per 100k rows).
    """

    __tablename__ = "observations"

    indicator_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # first: serves per-indicator reads
    region_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[str] = mapped_column(String(36))


class ObservationRevision(Base):
    """A value that was replaced: the old value, the new one, when and by which batch."""

    __tablename__ = "observation_revisions"
    __table_args__ = (Index("ix_observation_revisions_cell", "region_id", "indicator_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    region_id: Mapped[str] = mapped_column(String(64))
    indicator_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(7))
    old_value: Mapped[float] = mapped_column(Float)
    new_value: Mapped[float] = mapped_column(Float)
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[str] = mapped_column(String(36), index=True)


class ApiKey(Base):
    """An API key, stored as the sha256 of the secret; `prefix` identifies it without revealing it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


regions = Region.__table__
indicators = Indicator.__table__
observations = Observation.__table__
observation_revisions = ObservationRevision.__table__
api_keys = ApiKey.__table__



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
    """A model definition: family, indicator, regions, covariates, schedule, sampler settings and family options."""

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
    options: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    """The family's own settings (keyword arguments of its model class), checked by the family."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    """The API key that created the model (its owner; None when made outside the API): its scheduled refits
    count against that key's queue cap, and the models of one key are capped."""


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
    schedulers enqueue a given tick. A tick skipped because the model already had a fit queued or
    running is kept as a row with status "skipped" (the why in `result["reason"]`).
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
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    """The API key that queued the job (None for scheduled refits); counted by the per-key queue cap."""


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

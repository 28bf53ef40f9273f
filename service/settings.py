"""Service settings: one pydantic-settings class read from `FRAGILITY_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GateThresholds(BaseModel):
    """Limits a fitted version must meet to be promoted (served)."""

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    max_divergences: int = 0
    name: str = "service gate"
    """How versions, the page and the CLI name this gate ("demo gate" for `fragility demo`'s)."""

    def thresholds(self) -> dict[str, float]:
        """Return the limits alone (max_rhat, min_ess_bulk, max_divergences), as models.fitting.gate takes them."""
        return self.model_dump(exclude={"name"})


class DatabaseLimits(BaseModel):
    """PostgreSQL connection pool and timeouts (SQLite ignores them); env `FRAGILITY_DB__<NAME>`.

    A database that stops answering (silent partition, hung server) turns into 503s within about
    `unresponsive_after_seconds + probe_timeout_seconds + connect_timeout_seconds` (7 s by default)
    instead of hanging requests.
    """

    pool_size: int = Field(default=20, ge=1)
    """Connections kept open; with `max_overflow` at least the API's 40 request threads."""
    max_overflow: int = Field(default=30, ge=0)
    pool_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a request waits for a free connection before a 503 with Retry-After."""
    connect_timeout_seconds: int = Field(default=2, ge=2)
    """libpq connect_timeout (libpq's minimum is 2 s)."""
    unresponsive_after_seconds: float = Field(default=2.0, gt=0)
    """A round trip waiting this long while the server answered nobody else gets the server probed
    with a fresh connection; if the probe fails, every stalled connection is dropped (503)."""
    probe_timeout_seconds: int = Field(default=3, ge=2)
    """How long the fresh connection probing a silent server may take to connect, then to answer."""
    statement_timeout_seconds: float = Field(default=120.0, gt=0)
    """Server-side statement_timeout; a round trip this long (plus 5 s) is dropped client-side too."""
    idle_in_transaction_seconds: float = Field(default=600.0, gt=0)
    """Server-side idle_in_transaction_session_timeout: a transaction left open by a vanished client ends."""
    keepalive_idle_seconds: int = Field(default=5, ge=1)
    """TCP keepalives (client and server side) and tcp_user_timeout: a dropped network is found in ~15 s."""


class Settings(BaseSettings):
    """Every knob of the service; values flow down to the rest of the code as arguments."""

    model_config = SettingsConfigDict(
        env_prefix="FRAGILITY_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database_url: str = "sqlite:///fragility.db"
    artifacts: str = "artifacts"
    """Where posteriors and forecast paths live: a path or file:// URL, s3://bucket/prefix, gs://bucket/prefix,
    or memory:// (one process only: tests). Shared by the API, the job workers and the Dask workers."""
    artifacts_options: dict[str, Any] = {}
    """fsspec options of the artifact store as JSON, e.g. {"client_kwargs": {"endpoint_url": "http://minio:9000"}}."""
    dask_scheduler: str | None = None
    public_read: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=10_000_000, gt=0)
    max_batch_rows: int = Field(default=50_000, gt=0)
    max_region_neighbours: int = Field(default=1_000, gt=0)
    """A region listing more neighbours is refused (422) before they are validated."""
    max_queued_jobs_per_key: int = Field(default=20, gt=0)
    """Jobs one API key may have queued (not yet running) at once; one more is refused with a 429."""
    min_schedule_interval_seconds: int = Field(default=3600, ge=0, le=86400)
    """A model schedule whose ticks may come closer than this is refused (422); at most one day."""
    rate_limit: str = "600/minute"
    trusted_proxies: str = Field(default="", description=(
        "comma-separated addresses or networks of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto "
        "are believed (e.g. '127.0.0.1' or '10.0.0.0/8'); empty (default): forwarded headers are ignored"))
    body_timeout_seconds: float = Field(default=30.0, gt=0, description=(
        "time a client has to send a request body once its headers arrived; later: 408 and the connection closed"))
    max_requests_per_client: int = Field(default=100, gt=0, description=(
        "requests one client address may have in progress at once (slow bodies included); more: 429"))
    question_workers: int = Field(default=2, gt=0, le=64, description=(
        "question processes (or threads, see question_processes) computing expensive questions (probability "
        "event grids, spillover, scenarios) at once; they never run on the request threadpool"))
    question_processes: bool = Field(default=True, description=(
        "compute expensive questions in processes of their own (niced, each with its own path cache), so their "
        "simulations never hold the API process's GIL; false: threads of the API process (one process, less "
        "memory, but cheap endpoints wait for the GIL while questions compute)"))
    question_niceness: int = Field(default=10, ge=0, le=19, description=(
        "niceness added to the question processes: under CPU contention the API answers before questions"))
    max_waiting_questions: int = Field(default=8, ge=0, description=(
        "expensive questions that may wait for a question thread; one more is refused with 429 and Retry-After"))
    max_questions_per_key: int = Field(default=2, gt=0, description=(
        "expensive questions one API key (or anonymous address) may have computing or waiting at once; "
        "more: 429 with Retry-After"))
    max_concurrent_exports: int = Field(default=4, gt=0, le=256, description=(
        "paths exports (GET /v1/models/{name}/paths) one API process builds or sends at once; one more is "
        "refused with 429 and Retry-After"))
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=600, description=(
        "time a client has to send a request's line and headers once it connected (or began the next request "
        "on a kept-alive connection); later: 408 and the connection closed, so slow-header clients do not hold "
        "connections and open files"))
    cache_bytes: int = Field(default=1_000_000_000, gt=0, description=(
        "approximate bytes of loaded artifacts, simulations and answers the serving cache keeps per API "
        "process; least recently used entries are dropped past it"))
    max_revisions_per_cell: int = Field(default=100, gt=0, description=(
        "revisions kept per observation cell (region, indicator, month); older ones are dropped when a batch "
        "revises the cell again"))
    max_models_per_key: int = Field(default=100, gt=0, description=(
        "models one API key may own (create); one more is refused with 409 TooManyModels"))
    max_model_regions: int = Field(default=1_000, gt=0, description=(
        "regions one model may cover; a model (or a fit) over more is refused with 422 naming `regions`"))
    max_posterior_values: int = Field(default=60_000_000, gt=0, description=(
        "posterior values a fit may hold: 3 runs x chains x draws x (16 x regions x (1 + covariates) + 16); "
        "a model or fit over it is refused with 422 naming `sampler` before sampling starts"))
    gate: GateThresholds = GateThresholds()
    db: DatabaseLimits = DatabaseLimits()
    job_lease_seconds: int = Field(default=120, gt=0)
    job_max_attempts: int = Field(default=3, gt=0)
    job_check_seconds: float = Field(default=2.0, gt=0, le=60, description=(
        "how often a worker checks that its running job is still its own (not cancelled, lease not taken over); "
        "a cancelled job's computation is killed within about this long"))
    orphan_artifact_minutes: float = Field(default=30.0, ge=0, description=(
        "an attempt's artifact folder that no version references, whose job is not running that attempt, and "
        "in which nothing was written for this long is removed by the scheduler's sweep"))
    artifact_sweep_seconds: float = Field(default=600.0, gt=0, description=(
        "how often the scheduler sweeps orphaned attempt folders out of the artifact store"))
    worker_processes: int = Field(default=1, gt=0)
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    log_level: str = "INFO"

    def fit_limits(self) -> dict[str, int]:
        """Return the fit-size limits as keyword arguments of service.crud.models.check_fit_size."""
        return {"max_regions": self.max_model_regions, "max_values": self.max_posterior_values}

    @field_validator("artifacts", mode="before")
    @classmethod
    def artifacts_as_text(cls, value: Any) -> str:
        """Return the artifact location as text (a pathlib.Path is accepted as before)."""
        return str(value)

    @field_validator("rate_limit")
    @classmethod
    def parse_rate_limit(cls, value: str) -> str:
        """Return the rate limit if the `limits` library can read it (e.g. "600/minute", "10/second")."""
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"FRAGILITY_RATE_LIMIT {value!r} is not a rate such as '600/minute'") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def known_log_level(cls, value: str) -> str:
        """Return the log level upper-cased if it is one of DEBUG, INFO, WARNING, ERROR."""
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"FRAGILITY_LOG_LEVEL {value!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def use_psycopg_driver(cls, value: str) -> str:
        """Return the URL with PostgreSQL pointed at the psycopg 3 driver."""
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value


@lru_cache
def get_settings() -> Settings:
    """Return the settings read once from the environment."""
    return Settings()

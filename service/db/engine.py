"""Database engine and sessions: one engine per app; SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from indicators.errors import InputError
from service.db.guard import GuardedConnection, GuardPolicy
from service.errors import DatabaseUnavailable
from service.settings import DatabaseLimits

log = logging.getLogger("fragility.db")


def _configure_sqlite(dbapi_connection, _record) -> None:
    """Turn on WAL, foreign keys and a busy timeout on every new SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except Exception:  # in-memory databases cannot use WAL; they keep their mode
        pass
    cursor.close()


def _integer_out_of_range(context) -> InputError | None:
    """Return an InputError for an integer SQLite cannot bind (beyond 64 bits, e.g. a job id of 10**30).

    sqlite3 raises a bare OverflowError there (a 500); PostgreSQL compares such a number as numeric.
    """
    if isinstance(context.original_exception, OverflowError):
        return InputError("a number in the request is beyond the 64-bit range the database can store",
                          hint="Use an integer id or version between 1 and 9223372036854775807.")
    return None


def postgres_connect_args(limits: DatabaseLimits) -> dict:
    """Return the libpq parameters bounding how long a PostgreSQL connection can hang.

    Client side: connect_timeout, TCP keepalives and tcp_user_timeout (a dropped network is found in
    seconds). Server side (`options`): statement_timeout, idle_in_transaction_session_timeout, and the
    server's own keepalives and tcp_user_timeout, so a vanished client's transaction (and its locks) ends.
    """
    idle, interval, count = limits.keepalive_idle_seconds, 2, 3
    user_timeout_ms = (idle + interval * count) * 1000
    server = {"statement_timeout": int(limits.statement_timeout_seconds * 1000),
              "idle_in_transaction_session_timeout": int(limits.idle_in_transaction_seconds * 1000),
              "tcp_keepalives_idle": idle, "tcp_keepalives_interval": interval, "tcp_keepalives_count": count,
              "tcp_user_timeout": user_timeout_ms}
    return {"connect_timeout": limits.connect_timeout_seconds, "keepalives": 1, "keepalives_idle": idle,
            "keepalives_interval": interval, "keepalives_count": count, "tcp_user_timeout": user_timeout_ms,
            "options": " ".join(f"-c {name}={value}" for name, value in server.items())}


def default_limits() -> DatabaseLimits:
    """Return the database limits of the environment's settings (FRAGILITY_DB__*)."""
    from service.settings import get_settings

    return get_settings().db


def make_engine(url: str, limits: DatabaseLimits | None = None) -> Engine:
    """Return an engine for `url`; SQLite connections are configured for WAL and foreign keys.

    PostgreSQL gets a pool sized by `limits` (default: the environment's settings), connections with
    bounded timeouts (postgres_connect_args) whose round trips are guarded against a silent server
    (service.db.guard), and a ping on checkout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "handle_error", _integer_out_of_range)
        return engine
    limits = limits or default_limits()
    engine = create_engine(url, pool_pre_ping=True, pool_size=limits.pool_size, max_overflow=limits.max_overflow,
                           pool_timeout=limits.pool_timeout_seconds, connect_args=postgres_connect_args(limits))
    policies: dict[str, GuardPolicy] = {}

    def connect_guarded(_dialect, _record, cargs, cparams):
        conninfo = make_conninfo(**{k: v for k, v in cparams.items() if k not in ("context", "client_encoding")})
        policy = policies.get(conninfo)
        if policy is None:
            policy = policies[conninfo] = GuardPolicy(
                conninfo, unresponsive_after=limits.unresponsive_after_seconds,
                hard_limit=limits.statement_timeout_seconds + 5, probe_timeout=limits.probe_timeout_seconds)
        connection = GuardedConnection.connect(*cargs, **cparams)
        connection.guard_policy = policy
        return connection

    event.listen(engine, "do_connect", connect_guarded)
    return engine


class Database:
    """An engine and its session factory, owned by one app or CLI command."""

    def __init__(self, url: str, limits: DatabaseLimits | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, limits)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that is rolled back if the block raises and closed at the end.

        A connection lost meanwhile does not fail the rollback or the close (the server drops the open
        transaction itself, and what was committed stays committed): the block's own outcome, possibly an
        answer already being sent, stands.
        """
        session = self.sessions()
        try:
            yield session
        except BaseException:
            end_quietly(session.rollback)
            raise
        finally:
            end_quietly(session.close)

    def ping(self) -> None:
        """Return nothing if the database answers a trivial query.

        Raises DatabaseUnavailable otherwise.
        """
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise DatabaseUnavailable(f"database at {safe_url(self.url)} is unreachable: {exc.orig}") from exc

    def dispose(self) -> None:
        """Close every pooled connection; returns nothing."""
        self.engine.dispose()


def end_quietly(end: Callable[[], None]) -> None:
    """Run a session's rollback or close; a database error (connection lost) is logged, not raised.

    Returns nothing."""
    try:
        end()
    except DBAPIError as exc:
        log.warning("database connection lost while ending a session", extra={"error": type(exc.orig).__name__})


def safe_url(url: str) -> str:
    """Return `url` with any password masked, fit for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Config:
    """Return the Alembic config of the service pointed at `url`."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.with_name("alembic")))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def run_migrations(url: str) -> None:
    """Upgrade the database at `url` to the head revision; returns nothing.

    Raises DatabaseUnavailable when the database cannot be reached.
    """
    try:
        command.upgrade(alembic_config(url), "head")
    except DBAPIError as exc:
        if isinstance(exc, OperationalError):
            raise DatabaseUnavailable(f"database at {safe_url(url)} is unreachable: {exc.orig}") from exc
        raise


def head_revisions(url: str) -> set[str]:
    """Return the head revision ids of the migration scripts."""
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    """Return the revision ids the database at `engine` is stamped with (empty if never migrated)."""
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())

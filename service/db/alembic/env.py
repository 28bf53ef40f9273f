"""Alembic environment: the URL comes from the caller (`service.db.engine.run_migrations`) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from service.db.tables import Base  # declares every table on Base.metadata
from service.settings import get_settings

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK_ID = 7_274_911  # PostgreSQL advisory lock: replicas starting together migrate one at a time


def database_url() -> str:
    """Return the URL to migrate: the one set on the config, else FRAGILITY_DATABASE_URL."""
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    """Emit the migration SQL without a connection; returns nothing."""
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection; returns nothing."""
    url = database_url()
    # A database that accepts TCP but never answers must not hang start-up: libpq gives up on the
    # connection handshake after this many seconds and the start fails with DatabaseUnavailable.
    connect_args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    with engine.connect() as connection:
        is_sqlite = connection.dialect.name == "sqlite"
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                          render_as_batch=is_sqlite)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

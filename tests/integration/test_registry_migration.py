"""Alembic head matches the declared metadata (data and registry tables), on SQLite and PostgreSQL,
and the registry migration downgrades cleanly to 0001 and upgrades again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import service.db.tables  # noqa: F401  (declares the registry tables)
from service.db.engine import alembic_config, make_engine, run_migrations
from service.db.tables import Base

REGISTRY_TABLES = {"models", "model_versions", "jobs", "backtests"}


def test_head_matches_metadata_and_0002_round_trips(database_url):
    run_migrations(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        command.downgrade(alembic_config(database_url), "0001")
        assert not REGISTRY_TABLES & set(inspect(engine).get_table_names())
        command.upgrade(alembic_config(database_url), "head")
        assert REGISTRY_TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

"""SQLAlchemy 2 tables of the data side (regions, indicators, observations, revisions, API keys).

The registry side (models, versions, jobs, schedules, backtests) lives in `service.tables_registry`;
both share `Base.metadata`, which Alembic compares against.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

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

"""SQLAlchemy 2 tables of the registry side: models, versions, jobs, schedule ticks, backtests."""

from service.tables import Base  # noqa: F401  (tables are declared on this Base)

"""Database: the SQLAlchemy tables, the engine and its migrations (alembic), and the guard."""

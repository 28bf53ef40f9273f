"""Pre-test check run by `make test`: PostgreSQL must answer at 127.0.0.1:5432 (database `test`).

Exit 0 when it answers; exit 1 with a message saying how to start it otherwise.
"""

from __future__ import annotations

import sys

import psycopg

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOW_TO_START = ("start it with `docker run -d --name ff-pg -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust "
                "-e POSTGRES_DB=test postgres:16` (or `sudo service postgresql start` with a trust rule for "
                "127.0.0.1 in pg_hba.conf)")


def check_postgres() -> str | None:
    """Return None when PostgreSQL answers (creating database `test` if missing), else the problem."""
    try:
        with psycopg.connect(PG_DSN, connect_timeout=5) as connection:
            connection.execute("SELECT 1")
        return None
    except psycopg.OperationalError as exc:
        if 'database "test" does not exist' not in str(exc):
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute("CREATE DATABASE test")
        return None
    except psycopg.Error as exc:
        return f"database `test` is missing and could not be created: {exc}"


def main() -> int:
    """Return the exit code after printing the outcome of the check."""
    problem = check_postgres()
    if problem is None:
        print("preflight: PostgreSQL answers at 127.0.0.1:5432")
        return 0
    print(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({problem}): {HOW_TO_START}; the pg tests need it.",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

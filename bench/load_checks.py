"""What bench/load.py needs around the load itself: its PostgreSQL database and keys, latency percentiles, the
problems the server logged, and the check that every acknowledged observation was stored."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def create_database() -> tuple[str, str]:
    """Return (name, SQLAlchemy URL) of a new empty PostgreSQL database."""
    name = f"ff_load_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    """Drop the benchmark database; returns nothing."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def make_keys(url: str, scope: str, count: int = 1) -> list[str]:
    """Return `count` new keys of `scope` on the database at `url` (migrated first)."""
    from service.crud.keys import create_key
    from service.db.engine import Database, run_migrations

    run_migrations(url)
    database = Database(url)
    try:
        with database.session() as session:
            return [create_key(session=session, scope=scope, label=f"bench.load {scope} {n}")[1]
                    for n in range(count)]
    finally:
        database.dispose()



def percentiles(seconds: list[float]) -> dict:
    """Return count, p50, p99 and max in milliseconds of latencies in seconds."""
    ms = np.asarray(seconds) * 1000
    return {"count": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "max_ms": round(float(ms.max()), 1)}


def server_problems(log: Path) -> dict[str, int]:
    """Return how often the server logged each warning or error (message, error class, start of detail)."""
    problems: Counter = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("WARNING", "ERROR", "CRITICAL"):
            what = " | ".join(str(entry[k])[:90] for k in ("message", "error", "detail") if entry.get(k))
            problems[what] += 1
    return dict(problems.most_common(20))


def check_rows(dsn: str, acknowledged: dict[tuple[str, str], float]) -> dict:
    """Return the rows check: acknowledged cells, stored cells, and acknowledged cells lost or wrong."""
    with psycopg.connect(dsn) as connection:
        stored = {(r, p): v for r, p, v in connection.execute(
            "SELECT region_id, period, value FROM observations WHERE indicator_id = 'load_events'")}
        revisions = connection.execute(
            "SELECT count(*) FROM observation_revisions WHERE indicator_id = 'load_events'").fetchone()[0]
    lost = [cell for cell in acknowledged if cell not in stored]
    wrong = [cell for cell, value in acknowledged.items() if cell in stored and stored[cell] != value]
    return {"acknowledged_cells": len(acknowledged), "stored_cells": len(stored), "revisions": revisions,
            "rows_lost": len(lost), "rows_wrong_value": len(wrong)}

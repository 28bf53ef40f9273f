"""Ingest throughput: 100,000 observations in batches of 5,000 on SQLite and PostgreSQL.

Two paths per backend: HTTP (POST /v1/observations against a `fragility serve` process started here)
and the crud function directly (`ingest_rows`: validation + bulk upsert, what the CLI uses). Each
batch is new data (inserts); a second pass resends everything changed by +1 (updates with revisions).
Prints one JSON line per measurement:
{"bench":"ingest","backend":...,"path":...,"phase":...,"rows":...,"seconds":...,"rows_per_second":...}

Usage: python bench/ingest.py [--rows 100000] [--batch 5000] [--backends sqlite,pg]
Needs PostgreSQL at 127.0.0.1:5432 (user postgres) for the pg backend.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from indicators import add_months
from service.crud.indicators import upsert_indicators
from service.crud.keys import create_key
from service.crud.observations import ingest_rows
from service.crud.regions import upsert_regions
from service.db.engine import Database, run_migrations

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
N_REGIONS = 100


def make_rows(n_rows: int, bump: float = 0.0) -> list[dict]:
    """Return `n_rows` distinct count observations over N_REGIONS regions and consecutive months from 1900-01."""
    months_needed = -(-n_rows // N_REGIONS)
    months = [add_months("1900-01", i) for i in range(months_needed)]
    return [{"region": f"R{i % N_REGIONS:03d}", "indicator": "attacks", "period": months[i // N_REGIONS],
             "value": float(i % 50) + bump} for i in range(n_rows)]


def seed_catalogue(url: str) -> str:
    """Return a write key after migrating `url` and storing the regions and the indicator."""
    run_migrations(url)
    database = Database(url)
    with database.session() as session:
        upsert_regions(session=session, items=[{"id": f"R{i:03d}", "name": f"Region {i}", "neighbours": []}
                                               for i in range(N_REGIONS)])
        upsert_indicators(session=session, items=[{"id": "attacks", "kind": "count"}])
        _, key = create_key(session=session, scope="write", label="bench")
    database.dispose()
    return key


@contextmanager
def database(backend: str) -> Iterator[str]:
    """Yield a fresh database URL for `backend` ("sqlite" file or a new PostgreSQL database), removed after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"ff_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def batches(rows: list[dict], size: int) -> list[list[dict]]:
    """Return `rows` cut into consecutive batches of `size`."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def report(backend: str, path: str, phase: str, rows: int, seconds: float) -> None:
    """Print one JSON result line; returns nothing."""
    print(json.dumps({"bench": "ingest", "backend": backend, "path": path, "phase": phase, "rows": rows,
                      "seconds": round(seconds, 3), "rows_per_second": round(rows / seconds)}), flush=True)


def bench_crud(backend: str, url: str, n_rows: int, size: int) -> None:
    """Measure ingest_rows directly: one pass of inserts, one of updates."""
    seed_catalogue(url)
    db = Database(url)
    for phase, bump, outcome in (("insert", 0.0, "inserted"), ("update", 1.0, "updated")):
        parts = batches(make_rows(n_rows, bump), size)
        started = time.perf_counter()
        done = 0
        for part in parts:
            with db.session() as session:
                done += getattr(ingest_rows(session=session, rows=part, max_rows=size), outcome)
        report(backend, "crud", phase, done, time.perf_counter() - started)
    db.dispose()


@contextmanager
def server(url: str) -> Iterator[str]:
    """Yield the base URL of a `fragility serve --no-worker` process on `url`, stopped after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FRAGILITY_DATABASE_URL": url, "FRAGILITY_RATE_LIMIT": "1000000/minute",
           "FRAGILITY_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--no-worker", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server on {url} did not start")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def bench_http(backend: str, url: str, n_rows: int, size: int) -> None:
    """Measure POST /v1/observations over HTTP: one pass of inserts, one of updates."""
    key = seed_catalogue(url)
    with server(url) as base, httpx.Client(base_url=base, timeout=120,
                                           headers={"Authorization": f"Bearer {key}"}) as client:
        for phase, bump, outcome in (("insert", 0.0, "inserted"), ("update", 1.0, "updated")):
            bodies = [json.dumps({"observations": part}).encode() for part in batches(make_rows(n_rows, bump), size)]
            started = time.perf_counter()
            done = 0
            for body in bodies:
                answer = client.post("/v1/observations", content=body, headers={"Content-Type": "application/json"})
                answer.raise_for_status()
                done += answer.json()[outcome]
            report(backend, "http", phase, done, time.perf_counter() - started)


def main() -> None:
    """Run the benchmark for each backend and path; returns nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--backends", default="sqlite,pg")
    parser.add_argument("--paths", default="crud,http")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        for path in args.paths.split(","):
            with database(backend) as url:
                (bench_crud if path == "crud" else bench_http)(backend, url, args.rows, args.batch)


if __name__ == "__main__":
    main()

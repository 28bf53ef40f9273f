"""Fixtures of the registry end-to-end tests: a real `fragility serve` process (API + embedded
scheduler and worker) on SQLite or PostgreSQL, and an HTTP client holding a write key."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.crud.keys import create_key
from service.db.engine import Database, run_migrations
from tests.e2e.registry_support import GATE_ENV
from tests.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
FRAGILITY = Path(sys.executable).with_name("fragility")


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, artifacts: Path, log: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Return (process, base URL) of a `fragility serve` process once /healthz answers."""
    port = free_port()
    env = {**os.environ, **GATE_ENV, "FRAGILITY_DATABASE_URL": url, "FRAGILITY_ARTIFACTS": str(artifacts),
           "FRAGILITY_JOB_LEASE_SECONDS": "10", "FRAGILITY_SCHEDULER_INTERVAL_SECONDS": "1",
           "FRAGILITY_RATE_LIMIT": "100000/minute", **(extra_env or {})}
    process = subprocess.Popen([str(FRAGILITY), "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(process)
    pytest.fail(f"server did not answer /healthz within 60 s: {log.read_text(errors='replace')[-3000:]}")


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server process group (SIGTERM, then SIGKILL after 20 s); returns nothing."""
    stop_process(process, group=True)


def registry_url(request, tmp_path: Path) -> str:
    """Return the database URL of this parametrisation: a fresh SQLite file, or the test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fragility.db"
    try:
        return request.getfixturevalue("pg_url")
    except pytest.FixtureLookupError:
        pytest.skip("no pg_url fixture: PostgreSQL end-to-end needs tests/conftest.py's pg_url")


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=[pytest.mark.pg, pytest.mark.slow])])
def registry_server(request, tmp_path):
    """Yield an httpx.Client (with a write key) of a real `fragility serve` process on a fresh database.

    The PostgreSQL run is marked slow (two real fits, ~65 s): the default suite covers PostgreSQL with
    the queue, API and migration tests; `--run-slow` adds the full HTTP run on it.
    """
    url = registry_url(request, tmp_path)
    run_migrations(url)
    database = Database(url)
    with database.session() as session:
        _, secret = create_key(session=session, scope="write", label="registry e2e")
        session.commit()
    database.dispose()
    process, base = start_server(url, tmp_path / "artifacts", tmp_path / "server.log")
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
    client.server_log = tmp_path / "server.log"
    try:
        yield client
    finally:
        client.close()
        stop_server(process)

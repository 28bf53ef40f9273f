"""Shared test fixtures: markers/options, PostgreSQL and SQLite databases, and real server processes.

- `--run-slow` runs tests marked `slow` (skipped otherwise).
- `pg_url` (per module): a fresh PostgreSQL database `ff_<random>` on 127.0.0.1:5432, dropped after.
- `sqlite_url`: a SQLite file in the test's tmp_path. `database_url` (per module): parametrised
  over ["sqlite", "pg"] (the pg case is marked `pg`).
- `live_server` (per module): a factory `live_server(database_url, artifacts_dir, env={...},
  extra_args=[...], worker=False) -> Server(base_url, process, admin_key, write_key, read_key)`
  starting `fragility serve` as a real subprocess; every server is killed at teardown.
  `str(live_server)` starts (once) a default SQLite server and gives its base URL.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.processes import stop_process

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_START_SECONDS = 90


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="module")
def pg_url() -> str:
    """Yield the SQLAlchemy URL of a fresh PostgreSQL database, dropped (FORCE) after the module."""
    name = f"ff_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); the pg tests need it "
                    "(start it, or deselect them with -m 'not pg')")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a SQLite file database in the test's tmp_path."""
    return f"sqlite:///{tmp_path / 'fragility.db'}"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a fresh database URL for the module: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'fragility.db'}"
    return request.getfixturevalue("pg_url")


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(args: list[str], env: dict[str, str], timeout: float = 120, cwd=ROOT) -> subprocess.CompletedProcess:
    """Return the finished `fragility ARGS` process (run as `python -m service.cli` in `cwd`), output as text."""
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Server:
    """A running `fragility serve` subprocess and the keys created for it."""

    base_url: str
    process: subprocess.Popen
    admin_key: str
    write_key: str
    read_key: str
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    def __str__(self) -> str:
        return self.base_url

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        """Return an httpx client on the server, sending `key` as the bearer token if given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=kwargs.pop("timeout", 60), **kwargs)

    def log(self) -> str:
        """Return the server's combined output so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL); returns nothing."""
        stop_process(self.process, group=True)


def create_cli_key(scope: str, env: dict[str, str]) -> str:
    """Return a new key of `scope` made with `fragility keys create` (its output's last word)."""
    done = cli(["keys", "create", "--scope", scope, "--label", f"test {scope}"], env)
    if done.returncode != 0:
        pytest.fail(f"`fragility keys create` failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout.split()[-1]


def create_cli_keys(scopes: list[str], env: dict[str, str]) -> dict[str, str]:
    """Return {scope: key} made by concurrent `fragility keys create` processes (database already migrated)."""
    running = {scope: subprocess.Popen([sys.executable, "-m", "service.cli", "keys", "create", "--scope", scope,
                                        "--label", f"test {scope}"], cwd=ROOT, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE) for scope in scopes}
    keys = {}
    for scope, process in running.items():
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            pytest.fail(f"`fragility keys create` failed ({process.returncode}): {err[-2000:]}")
        keys[scope] = out.split()[-1]
    return keys


class LiveServers:
    """Factory of real server processes for one test module; stops them all at teardown."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.servers: list[Server] = []
        self.default: Server | None = None

    def __call__(self, database_url: str, artifacts_dir: Path | str | None = None, env: dict | None = None,
                 extra_args: list[str] | None = None, worker: bool = False) -> Server:
        """Return a started server on `database_url` (with admin/write/read keys), answering /readyz."""
        workdir = self.tmp_path_factory.mktemp("server")
        artifacts_dir = Path(artifacts_dir) if artifacts_dir else workdir / "artifacts"
        full_env = {**os.environ, "FRAGILITY_DATABASE_URL": database_url, "FRAGILITY_ARTIFACTS": str(artifacts_dir),
                    "FRAGILITY_RATE_LIMIT": "100000/minute", "PYTHONUNBUFFERED": "1",
                    **{k: str(v) for k, v in (env or {}).items()}}
        keys = {"admin": create_cli_key("admin", full_env)}  # first: it migrates the database
        keys.update(create_cli_keys(["write", "read"], full_env))
        port = free_port()
        args = ["serve", "--port", str(port), *(extra_args or [])]
        if not worker and "--no-worker" not in args:
            args.append("--no-worker")
        log_path = workdir / "server.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=full_env,
                                       stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(f"http://127.0.0.1:{port}", process, keys["admin"], keys["write"], keys["read"],
                        log_path, full_env)
        self.servers.append(server)
        self._wait_ready(server)
        return server

    def _wait_ready(self, server: Server) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"server exited with {server.process.returncode}:\n{server.log()[-4000:]}")
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        server.stop()
        pytest.fail(f"server not ready within {SERVER_START_SECONDS} s:\n{server.log()[-4000:]}")

    def __str__(self) -> str:
        if self.default is None:
            url = f"sqlite:///{self.tmp_path_factory.mktemp('default') / 'fragility.db'}"
            self.default = self(url)
        return self.default.base_url

    def stop_all(self) -> None:
        """Stop every server started by this factory; returns nothing."""
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory):
    """Yield the module's server factory (see LiveServers); every server is stopped after the module."""
    servers = LiveServers(tmp_path_factory)
    try:
        yield servers
    finally:
        servers.stop_all()


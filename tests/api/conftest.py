"""Fixtures of the in-process API tests: an app on a SQLite file with keys of every scope."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.crud.keys import create_key
from service.db.engine import Database, run_migrations
from service.settings import Settings


@dataclass
class ApiHarness:
    """A TestClient on a fresh app and one key per scope."""

    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def auth(self, scope: str) -> dict[str, str]:
        """Return the Authorization header of the key of `scope`."""
        return {"Authorization": f"Bearer {self.keys[scope]}"}


def make_harness(tmp_path, **overrides) -> tuple[ApiHarness, TestClient]:
    """Return a harness whose settings are `overrides` on a SQLite file in tmp_path (client not entered)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'api.db'}", artifacts=tmp_path / "artifacts",
                        **overrides)
    run_migrations(settings.database_url)
    database = Database(settings.database_url)
    with database.session() as session:
        keys = {scope: create_key(session=session, scope=scope)[1] for scope in ("read", "write", "admin")}
    database.dispose()
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    return ApiHarness(client, settings, keys), client


@pytest.fixture
def api(tmp_path):
    """Yield an ApiHarness with default settings (lifespan run)."""
    harness, client = make_harness(tmp_path, rate_limit="10000/minute")
    with client:
        yield harness


@pytest.fixture
def api_factory(tmp_path):
    """Return a function making an ApiHarness with chosen settings (lifespan run, closed after the test)."""
    opened = []

    def make(**overrides) -> ApiHarness:
        folder = tmp_path / f"app{len(opened)}"
        folder.mkdir()
        harness, client = make_harness(folder, **overrides)
        client.__enter__()
        opened.append(client)
        return harness

    yield make
    for client in opened:
        client.__exit__(None, None, None)

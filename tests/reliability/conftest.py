"""Fixtures of the reliability tests: an in-process app on a seeded SQLite file (regions, an indicator,
observations, API keys of every scope) and, for the serving routes, a model fitted for real once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.app import create_app
from service.crud.keys import create_key
from service.db.engine import Database, run_migrations
from service.db.tables import observation_revisions, observations
from service.settings import GateThresholds, Settings
from tests.e2e.registry_support import model_payload, seed_database, tiny_panel

# The reliability tests need a served version, not a good model: a short fit and a gate it always passes.
QUICK_SAMPLER = {"method": "nutpie", "draws": 100, "tune": 100, "chains": 2, "seed": 1}
OPEN_GATE = {"max_rhat": 1e9, "min_ess_bulk": 0.0, "max_divergences": 10**9}


@dataclass
class Seeded:
    """A migrated, seeded database: its URL, artifact root, keys by scope, the Database and region ids."""

    url: str
    artifacts: Path
    keys: dict[str, str]
    database: Database
    regions: list[str]

    def settings(self, **overrides) -> Settings:
        """Return service settings on this database (generous rate limit unless overridden)."""
        values = {"database_url": self.url, "artifacts": self.artifacts, "rate_limit": "1000000/minute",
                  "gate": GateThresholds(**OPEN_GATE), **overrides}
        return Settings(**values)

    def client(self, scope: str = "write", **overrides) -> TestClient:
        """Return a TestClient on a fresh app over this database, sending the key of `scope`."""
        app = create_app(self.settings(**overrides))
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        return TestClient(app, headers=headers, raise_server_exceptions=False)

    def counts(self) -> tuple[int, int]:
        """Return (observation rows, revision rows) stored right now."""
        with self.database.session() as session:
            return (session.execute(select(func.count()).select_from(observations)).scalar_one(),
                    session.execute(select(func.count()).select_from(observation_revisions)).scalar_one())


def make_seeded(root: Path, url: str | None = None) -> Seeded:
    """Return a Seeded database (a SQLite file under `root` unless `url` names one, e.g. a fresh
    PostgreSQL database): the tiny 4-region panel and one key per scope; artifacts under `root`."""
    url = url or f"sqlite:///{root}/fragility.db"
    run_migrations(url)
    database = Database(url)
    panel, _ = tiny_panel()
    seed_database(database, panel)
    keys = {}
    with database.session() as session:
        for scope in ("read", "write", "admin"):
            keys[scope] = create_key(session=session, scope=scope, label=f"reliability {scope}")[1]
    return Seeded(url, root / "artifacts", keys, database, list(panel.regions))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Seeded:
    """Yield a seeded SQLite database for the module (see Seeded)."""
    result = make_seeded(tmp_path_factory.mktemp("reliability"))
    yield result
    result.database.dispose()


def fit_model(seeded: Seeded, name: str = "m", *, create: bool = True, expect_success: bool = True, **overrides):
    """Return the ended fit job of model `name` (created first unless `create` is False), run for real by an
    in-process worker with the seeded settings plus `overrides` (e.g. artifacts=..., job_max_attempts=1)."""
    from service.crud import queue
    from service.crud.models import create_model, model_by_name
    from service.db.tables import Job, utc_now
    from service.executors import LocalExecutor
    from service.jobs.worker import Worker

    with seeded.database.session() as session:
        model = (create_model(session, data=model_payload(name=name, sampler=QUICK_SAMPLER)) if create
                 else model_by_name(session, name))
        job_id = queue.enqueue(session, kind="fit", model_id=model.id, now=utc_now())
        session.commit()
    executor = LocalExecutor(1)
    try:
        settings = seeded.settings(**{"job_lease_seconds": 60, **overrides})
        worker = Worker(seeded.database, settings, executor=executor, name="rel")
        assert worker.run_once() == job_id
    finally:
        executor.close()
    with seeded.database.session() as session:
        job = session.get(Job, job_id)
    if expect_success:
        assert job.status == "succeeded" and job.result.get("promoted"), (job.error, job.result)
    return job

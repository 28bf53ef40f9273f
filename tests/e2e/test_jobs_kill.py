"""kill -9 a worker process mid-fit: after its lease expires another worker claims the job and finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.crud import queue
from service.crud.models import create_model
from service.db.engine import Database, run_migrations
from service.db.tables import Job, utc_now
from service.serving.registry import served_version
from tests.e2e.registry_support import GATE_ENV, model_payload, seed_database, tiny_panel
from tests.processes import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    """Return a `fragility worker` process in its own process group."""
    return subprocess.Popen([str(Path(sys.executable).with_name("fragility")), "worker", "--poll", "0.3"],
                            cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def job_row(database, job_id) -> Job:
    with database.session() as session:
        return session.get(Job, job_id)


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=[pytest.mark.pg, pytest.mark.slow])])
def kill_database_url(request, tmp_path):
    """Return a fresh SQLite file URL, or (slow) the module's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fragility.db"
    return request.getfixturevalue("pg_url")


def test_a_job_whose_worker_is_killed_is_finished_by_another(kill_database_url, tmp_path):
    url = kill_database_url
    run_migrations(url)
    database = Database(url)
    seed_database(database, tiny_panel()[0])
    with database.session() as session:
        model = create_model(session, data=model_payload(name="killed"))
        job_id = queue.enqueue(session, kind="fit", model_id=model.id, now=utc_now())
        session.commit()
    env = {**os.environ, **GATE_ENV, "FRAGILITY_DATABASE_URL": url, "FRAGILITY_ARTIFACTS": str(tmp_path / "art"),
           "FRAGILITY_JOB_LEASE_SECONDS": "3"}
    first = start_worker(env, tmp_path / "first.log")
    second = None
    try:
        running = wait_for(lambda: (j := job_row(database, job_id)).status == "running" and j, 60, "first claim")
        assert f":{first.pid}:" in running.worker
        time.sleep(2)  # mid-fit: the task process is importing/compiling/sampling
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert job_row(database, job_id).status == "running"  # nobody ended it: the lease will expire
        second = start_worker(env, tmp_path / "second.log")
        done = wait_for(lambda: (j := job_row(database, job_id)).status in ("succeeded", "failed") and j, 240,
                        "the second worker to finish the job")
        log = (tmp_path / "second.log").read_text(errors="replace")
        assert done.status == "succeeded", (done.error, log[-2000:])
        assert done.attempts == 2 and f":{second.pid}:" in done.worker
        with database.session() as session:
            assert served_version(session, "killed").number == 1
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        database.dispose()

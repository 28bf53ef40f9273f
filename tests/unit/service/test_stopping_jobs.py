"""The pure parts of stopping jobs (issue 28, item 5): how a lost worker's job reads, which artifact folder a key
belongs to and when it was written, and the process tree the executor kills."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from service.cli.models import job_state
from service.cli.registry import model_status
from service.crud.jobs import worker_lost
from service.db.tables import Job
from service.executors import descendants
from service.jobs.sweep import attempt_of, stamp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def job(status: str = "running", attempts: int = 1, lease: timedelta = timedelta(seconds=-5)) -> Job:
    return Job(id=7, kind="fit", status=status, attempts=attempts, max_attempts=3, worker="host:123:4",
               lease_until=NOW + lease)


def test_a_running_job_whose_lease_expired_says_its_worker_was_lost_and_what_comes_next():
    detail = worker_lost(job(), NOW)
    assert detail.startswith("worker host:123:4 lost") and "2026-03-01T11:59:55+00:00" in detail
    assert detail.endswith("attempt 2 of 3 starts when a worker claims it")
    assert "marks it failed" in worker_lost(job(attempts=3), NOW)
    assert worker_lost(job(lease=timedelta(seconds=5)), NOW) is None
    assert worker_lost(job(status="cancelled"), NOW) is None


def test_the_cli_names_a_lost_worker():
    shown = {"id": 7, "kind": "fit", "status": "running", "attempts": 1, "max_attempts": 3}
    assert job_state({**shown, "worker_lost": False}) == "running (attempt 1)"
    assert job_state({**shown, "worker_lost": True}) == "worker lost, waiting for a worker (attempt 2 of 3 next)"
    assert "fails when a worker claims it" in job_state({**shown, "attempts": 3, "worker_lost": True})
    assert model_status({}, [], [{**shown, "worker_lost": True}]) == \
        "fit job 7 running, worker lost: waiting for a worker to retry"
    assert model_status({}, [], [{**shown, "worker_lost": False}]) == "fit job 7 running"


@pytest.mark.parametrize(("key", "attempt"), [
    ("models/m/job-12-attempt-3/posterior.nc", (12, 3)),
    ("models/m/job-12-attempt-3/exports/paths-abc.csv", (12, 3)),
    ("/srv/artifacts/models/m/job-4-attempt-1/paths.npz", (4, 1)),  # a legacy absolute path
    ("models/m/v1/exports/paths-abc.csv", None),
    ("posterior.nc", None),
])
def test_an_artifact_key_names_its_attempt(key, attempt):
    assert attempt_of(key) == attempt


def test_modification_times_are_read_from_every_store_shape():
    assert stamp({"mtime": 1700000000.5}) == 1700000000.5
    assert stamp({"LastModified": datetime(2024, 1, 1, tzinfo=UTC)}) == datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    assert stamp({"updated": "2024-01-01T00:00:00Z"}) == datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    assert stamp({"size": 3}) is None


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_descendants_reach_grandchildren():
    child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; "
                              "subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])"])
    try:
        for _ in range(200):  # the grandchild starts once the child's interpreter is up
            if descendants(child.pid):
                break
            time.sleep(0.05)
        (grandchild,) = descendants(child.pid)
        assert {child.pid, grandchild} <= set(descendants(os.getpid()))
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()

"""Stopping work stops it (issue 28, item 5), against a real `fragility serve` process and real `fragility worker`
processes, with the pool processes read from the operating system (psutil), never assumed:

- a running fit cancelled over HTTP: its pool process is killed within seconds, its attempt's files are removed,
  and the next job runs at once on a fresh pool process;
- a worker killed with kill -9 mid-fit: its pool process dies with it, and once the lease expires the job says so
  (`worker_lost`, `detail` naming the next attempt) over HTTP and in `fragility models list`;
- the scheduler's sweep of a real server removes the folders of cancelled, failed and lost attempts once nothing
  was written in them for FRAGILITY_ORPHAN_ARTIFACT_MINUTES, and keeps what a version references, the running
  attempt, young folders and folders of jobs the database does not know.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import update

from service.crud import queue
from service.crud.models import create_model
from service.crud.versions import add_version
from service.db.tables import Job, utc_now
from service.serving.artifacts import attempt_prefix
from tests.conftest import ROOT, cli
from tests.e2e.registry_support import model_payload
from tests.processes import stop_process, wait_for
from tests.reliability.conftest import OPEN_GATE, QUICK_SAMPLER, make_seeded

pytestmark = pytest.mark.e2e

# 2 chains x 100,000 draws of the 4-region panel: 48,000,000 posterior values, under the default limit of
# 60,000,000, and minutes of sampling on 2 cores: it is always still computing when it is stopped.
LONG_SAMPLER = {"method": "nutpie", "draws": 100_000, "tune": 1000, "chains": 2, "seed": 1}
GATE_ENV = {f"FRAGILITY_GATE__{key.upper()}": str(value) for key, value in OPEN_GATE.items()}
STOPPED_WITHIN = 20.0
"""Seconds a stopped pool process may take to disappear (the worker checks every 0.5 s here; measured: 0.4-0.5 s
after a cancel, 3-7 s after a kill -9 of its worker at load 5-11, most of it the exit of a process of 1 GB)."""


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    """Return a `fragility worker` process (its own session, so a kill reaches only what we aim at)."""
    return subprocess.Popen([sys.executable, "-m", "service.cli", "worker", "--poll", "0.3"], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def pool_processes(pid: int) -> list[psutil.Process]:
    """Return the live executor pool processes started by process `pid` (spawned; the resource tracker aside)."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def gone(process: psutil.Process) -> bool:
    """Return True when `process` ended (a zombie left to an init that does not reap counts as ended)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def worker_env(server, **extra) -> dict:
    """Return the environment of a worker on the server's database and artifacts, checking its job every 0.5 s."""
    return {**server.env, **GATE_ENV, "FRAGILITY_JOB_CHECK_SECONDS": "0.5", "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in extra.items()}}


def running_pool_process(client, job_id: int, worker: subprocess.Popen) -> psutil.Process:
    """Return the one pool process of `worker` once job `job_id` runs there."""
    wait_for(lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] == "running", 60, f"job {job_id} to run")
    (process,) = wait_for(lambda: pool_processes(worker.pid), 60, "the worker's pool process")
    return process


@pytest.fixture(scope="module")
def server(live_server, seeded):
    """Return a server (no embedded worker) on the seeded database, with an open gate."""
    return live_server(seeded.url, seeded.artifacts, env=GATE_ENV)


def test_a_cancelled_fit_is_killed_its_files_removed_and_the_next_job_runs_at_once(server, seeded, tmp_path):
    worker = start_worker(worker_env(server, FRAGILITY_JOB_LEASE_SECONDS=30), tmp_path / "worker.log")
    try:
        with server.client(server.write_key) as client:
            assert client.post("/v1/models", json=model_payload("long", sampler=LONG_SAMPLER)).status_code == 201
            job_id = client.post("/v1/models/long/fit").json()["job_id"]
            pool = running_pool_process(client, job_id, worker)
            time.sleep(2)  # let it work: importing, compiling or sampling
            assert not gone(pool) and pool.cpu_times().user > 0
            folder = seeded.artifacts / attempt_prefix("long", job_id, 1)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "posterior.nc.partial").write_bytes(b"half a posterior")  # what a killed write leaves
            began = time.monotonic()
            cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
            wait_for(lambda: gone(pool), STOPPED_WITHIN, f"pool process {pool.pid} to be killed")
            stopped = time.monotonic() - began
            wait_for(lambda: not folder.exists(), 5, "the cancelled attempt's folder to be removed")
            print(f"cancelled fit: pool process {pool.pid} gone {stopped:.2f} s after the cancel")
            # the next job starts on a fresh pool process at once and finishes
            assert client.post("/v1/models", json=model_payload("after", sampler=QUICK_SAMPLER)).status_code == 201
            began = time.monotonic()
            next_id = client.post("/v1/models/after/fit").json()["job_id"]
            fresh = running_pool_process(client, next_id, worker)
            assert fresh.pid != pool.pid
            started = time.monotonic() - began
            done = wait_for(lambda: (job := client.get(f"/v1/jobs/{next_id}").json())["status"] in
                            ("succeeded", "failed") and job, 300, "the next job to end")
            assert done["status"] == "succeeded" and done["result"]["task_pid"] == fresh.pid, done
            print(f"next job: pool process {fresh.pid} running {started:.1f} s after it was queued; "
                  f"succeeded after {done['seconds']:.0f} s")
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    finally:
        stop_process(worker, group=True)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert "job abandoned" in log and "computation killed" in log, log[-3000:]


def test_a_killed_workers_pool_process_dies_with_it_and_its_job_shows_the_worker_lost(server, tmp_path):
    worker = start_worker(worker_env(server, FRAGILITY_JOB_LEASE_SECONDS=3), tmp_path / "worker.log")
    try:
        with server.client(server.write_key) as client:
            assert client.post("/v1/models", json=model_payload("orphan", sampler=LONG_SAMPLER)).status_code == 201
            job_id = client.post("/v1/models/orphan/fit").json()["job_id"]
            pool = running_pool_process(client, job_id, worker)
            time.sleep(2)
            began = time.monotonic()
            os.kill(worker.pid, signal.SIGKILL)  # the worker alone, not its process group
            worker.wait(timeout=10)
            wait_for(lambda: gone(pool), STOPPED_WITHIN, f"pool process {pool.pid} to die with its worker")
            print(f"killed worker: pool process {pool.pid} gone {time.monotonic() - began:.2f} s after kill -9")
            lost = wait_for(lambda: (job := client.get(f"/v1/jobs/{job_id}").json())["worker_lost"] and job, 15,
                            "the job to show its worker lost")
            assert lost["status"] == "running" and lost["attempts"] == 1, lost
            assert "lost" in lost["detail"] and "attempt 2 of 3" in lost["detail"], lost["detail"]
            listed = cli(["models", "list", "--url", server.base_url, "--key", server.read_key, "--json"], server.env)
            assert listed.returncode == 0, listed.stderr
            status = {row["name"]: row["status"] for row in json.loads(listed.stdout)["data"]}["orphan"]
            assert status == f"fit job {job_id} running, worker lost: waiting for a worker to retry", status
            assert client.post(f"/v1/jobs/{job_id}/cancel").json()["worker_lost"] is False
    finally:
        if worker.poll() is None:
            stop_process(worker, group=True)


def test_the_scheduler_sweeps_orphaned_attempt_folders_by_the_rule(live_server, tmp_path):
    seeded = make_seeded(tmp_path)
    now = utc_now()
    with seeded.database.session() as session:
        model = create_model(session, data=model_payload("swept"))
        ids = {}
        for name, status, attempts in [("done", "succeeded", 1), ("cancelled", "cancelled", 1),
                                       ("failed", "failed", 2), ("running", "running", 2), ("young", "cancelled", 1)]:
            ids[name] = queue.enqueue(session, kind="fit", model_id=model.id, now=now)
            session.execute(update(Job).where(Job.id == ids[name]).values(
                status=status, attempts=attempts, worker="elsewhere",
                lease_until=now + timedelta(hours=1) if status == "running" else None))
        add_version(session, model_id=model.id, number=1, job_id=ids["done"], data_hash="d" * 64, spec_hash="s" * 64,
                    regions=seeded.regions, posterior_file=f"{attempt_prefix('swept', ids['done'], 1)}/posterior.nc",
                    posterior_sha256="0" * 64, gate_passed=False, created_at=now)
        session.commit()
    folders = {
        "referenced by a version": (attempt_prefix("swept", ids["done"], 1), True),
        "cancelled": (attempt_prefix("swept", ids["cancelled"], 1), False),
        "failed, first attempt": (attempt_prefix("swept", ids["failed"], 1), False),
        "failed, last attempt": (attempt_prefix("swept", ids["failed"], 2), False),
        "lost, a later attempt runs": (attempt_prefix("swept", ids["running"], 1), False),
        "the running attempt": (attempt_prefix("swept", ids["running"], 2), True),
        "young": (attempt_prefix("swept", ids["young"], 1), True),
        "a job this database does not know": (attempt_prefix("swept", 99_999, 1), True),
        "another layout": ("models/swept/notes", True),
    }
    old = time.time() - 2 * 3600
    for name, (key, _) in folders.items():
        folder = seeded.artifacts / key
        folder.mkdir(parents=True)
        (folder / "posterior.nc").write_bytes(b"x" * 1000)
        if name != "young":
            os.utime(folder / "posterior.nc", (old, old))
    live_server(seeded.url, seeded.artifacts, worker=True, env={
        "FRAGILITY_ARTIFACT_SWEEP_SECONDS": 1, "FRAGILITY_SCHEDULER_INTERVAL_SECONDS": 1,
        "FRAGILITY_ORPHAN_ARTIFACT_MINUTES": 10})
    removed = {name for name, (_, kept) in folders.items() if not kept}
    wait_for(lambda: all(not (seeded.artifacts / folders[name][0]).exists() for name in removed), 30,
             f"the sweep to remove {sorted(removed)}")
    kept = {name for name, (key, _) in folders.items() if (seeded.artifacts / key / "posterior.nc").exists()}
    assert kept == {name for name, (_, keep) in folders.items() if keep}, kept
    seeded.database.dispose()

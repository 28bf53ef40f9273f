"""The orphan sweep (service.jobs.sweep) on a local folder and on a real S3 server (moto's, through s3fs as in a
deployment), with the job and version rows in a real SQLite database: the rule removes the folders of ended
attempts nobody references once nothing was written in them for the minimum age, and nothing else."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from service.crud import queue
from service.crud.models import create_model
from service.crud.versions import add_version
from service.db.tables import Job, utc_now
from service.jobs.sweep import attempt_folders, remove_attempt, sweep_orphans
from service.serving.artifacts import ArtifactStore, attempt_prefix
from tests.e2e.registry_support import model_payload
from tests.object_store import s3_server
from tests.reliability.conftest import make_seeded


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    """Yield an empty artifact store: a local folder, or a bucket of a moto S3 server."""
    if request.param == "file":
        yield ArtifactStore(tmp_path / "artifacts")
        return
    with s3_server(tmp_path / "moto.log") as server:
        yield ArtifactStore(f"{server.bucket('sweep')}/artifacts", server.options)


def test_the_sweep_removes_ended_unreferenced_attempts_past_the_minimum_age(store, tmp_path):
    seeded = make_seeded(tmp_path)
    now = utc_now()
    with seeded.database.session() as session:
        model = create_model(session, data=model_payload("m"))
        ids = {}
        for name, status, attempts in [("done", "succeeded", 1), ("cancelled", "cancelled", 1),
                                       ("running", "running", 2)]:
            ids[name] = queue.enqueue(session, kind="fit", model_id=model.id, now=now)
            session.execute(update(Job).where(Job.id == ids[name]).values(
                status=status, attempts=attempts, worker="w", lease_until=now + timedelta(hours=1)))
        add_version(session, model_id=model.id, number=1, job_id=ids["done"], data_hash="d" * 64,
                    spec_hash="s" * 64, regions=seeded.regions, posterior_sha256="0" * 64, gate_passed=True,
                    posterior_file=f"{attempt_prefix('m', ids['done'], 1)}/posterior.nc",
                    paths_file=f"{attempt_prefix('m', ids['done'], 1)}/paths.npz", created_at=now)
        session.commit()
    keys = {"done": attempt_prefix("m", ids["done"], 1), "cancelled": attempt_prefix("m", ids["cancelled"], 1),
            "lost": attempt_prefix("m", ids["running"], 1), "running": attempt_prefix("m", ids["running"], 2),
            "unknown": attempt_prefix("m", 4321, 1)}
    for key in keys.values():
        store.write_bytes(f"{key}/posterior.nc", b"p" * 100)
        store.write_bytes(f"{key}/exports/paths-0123.csv", b"c" * 100)
    assert len(attempt_folders(store)) == 5
    # written just now: younger than the minimum age, nothing goes
    assert sweep_orphans(seeded.database, store, now=time.time(), min_age_seconds=600) == []
    # an hour later: the cancelled attempt and the lost first attempt of the running job go
    removed = sweep_orphans(seeded.database, store, now=time.time() + 3600, min_age_seconds=600)
    assert sorted(removed) == sorted([keys["cancelled"], keys["lost"]])
    left = {folder.key for folder in attempt_folders(store)}
    assert left == {keys["done"], keys["running"], keys["unknown"]}, left
    assert store.read_bytes(f"{keys['done']}/exports/paths-0123.csv") == b"c" * 100
    # a worker that killed its attempt removes that folder at once, never a referenced one
    assert remove_attempt(seeded.database, store, ids["running"], 2) == [keys["running"]]
    assert remove_attempt(seeded.database, store, ids["done"], 1) == []
    assert {folder.key for folder in attempt_folders(store)} == {keys["done"], keys["unknown"]}
    seeded.database.dispose()

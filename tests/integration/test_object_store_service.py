"""Artifacts in an object store, through the whole service: a real moto S3 server process and memory://.

S3: a real Worker fits the tiny panel in a spawned pool process that writes straight to the bucket (the store
travels as its URL and options); the version is promoted; a separate API server process that shares only the
database and the bucket serves its forecast over HTTP; a corrupted object marks the version broken with a
reason naming the model, version and file key (no endpoint, bucket or credentials); a forecast job rebuilds the
paths in the bucket; a backtest job runs. memory://: the same fit, serving and backtest in this one process
(make_executor runs tasks in a thread here, since no other process sees a memory store), then a deleted object
marks the version broken. Models without spillover keep each test to one compiled model shape.
"""

from __future__ import annotations

import json
import uuid

import pytest

from service.crud import queue
from service.crud.jobs import backtest_out
from service.crud.models import update_model
from service.crud.versions import version_by_number
from service.db.tables import Job, utc_now
from service.errors import NoServedVersion
from service.executors import InProcessExecutor, LocalExecutor, make_executor
from service.serving.artifacts import settings_store
from service.serving.cached_source import probability_from_paths
from service.serving.path_cache import PathCache, fit_of, resolve
from tests.e2e.registry_support import STARVED_SAMPLER, fit_now, model_payload, tiny_panel, worker_registry
from tests.object_store import ACCESS_KEY, SECRET_KEY, s3_server


def run(database, worker, model_id: int, kind: str, payload: dict | None = None) -> Job:
    """Return the job of `kind` after `worker` ran it to the end."""
    with database.session() as session:
        job_id = queue.enqueue(session, kind=kind, model_id=model_id, now=utc_now(), payload=payload)
        session.commit()
    assert worker.run_once() == job_id
    with database.session() as session:
        return session.get(Job, job_id)


def run_backtest(database, worker, model_id: int) -> dict:
    """Return the stored result of a one-origin backtest with starved (quick) fits; asserts it succeeded.

    The models have no spillover term, so the backtest has no twin to compile: one compiled shape per test."""
    with database.session() as session:
        update_model(session, name="m", changes={"sampler": STARVED_SAMPLER})
    job = run(database, worker, model_id, "backtest", {"origins": 1, "step": 1, "horizon": 2})
    with database.session() as session:
        out = backtest_out(session, job_id=job.id)
    assert out["status"] == "succeeded", out["error"]
    assert {row["forecaster"] for row in out["scores"]} >= {"zero", "model"}, out["failures"]
    return out


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """Return a running moto S3 server (module scope)."""
    with s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


def test_fit_promotion_serving_breakage_repair_and_backtest_on_an_s3_server(s3, tmp_path, live_server):
    url = f"{s3.bucket(f'fragility-{uuid.uuid4().hex[:12]}')}/prod"
    panel, _ = tiny_panel()
    with worker_registry(tmp_path, panel, indicators=[], models=[model_payload(name="m", spillover=False)],
                         worker_name="s3-worker") as (database, settings, worker, ids):
        settings = worker.settings = settings.model_copy(update={"artifacts": url, "artifacts_options": s3.options})
        assert isinstance(worker.executor, LocalExecutor)  # a spawned process: it reaches the bucket by itself
        result = fit_now(database, worker, ids["m"])
        assert result["version"] == 1 and result["promoted"], result
        with database.session() as session:
            v1 = version_by_number(session, ids["m"], 1)
            keys = {v1.posterior_file, v1.paths_file}
        bucket_files = {path.split("/prod/", 1)[1] for path in s3.filesystem().find(url)}
        assert keys <= bucket_files and not (tmp_path / "artifacts").exists(), (keys, bucket_files)

        server = live_server(settings.database_url, env={
            "FRAGILITY_ARTIFACTS": url, "FRAGILITY_ARTIFACTS_OPTIONS": json.dumps(s3.options)})
        with server.client(server.read_key) as reader:
            answer = reader.get("/v1/models/m/forecast", params={"region": "R01", "horizon": 3})
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 1 and len(answer.json()["steps"]) == 3

        store, cache = settings_store(settings), PathCache(settings_store(settings))
        paths_key = next(k for k in keys if k.endswith("paths.npz"))
        store.write_bytes(paths_key, store.read_bytes(paths_key)[:-10] + b"corrupted!")
        with database.session() as session:
            with pytest.raises(NoServedVersion, match="broken"):
                resolve(session, cache, "m")
            broken = version_by_number(session, ids["m"], 1).broken
        assert broken.startswith(f"forecast paths of m v1 file {paths_key} is corrupt"), broken
        for secret in (s3.endpoint, "s3://", url, ACCESS_KEY, SECRET_KEY):
            assert secret not in broken

        job = run(database, worker, ids["m"], "forecast", {"version": 1})
        assert job.status == "succeeded", job.error
        with database.session() as session:
            served, stored = resolve(session, PathCache(store), "m")
            assert served.number == 1 and stored.paths.shape[1:] == (6, 4)
            assert f"job-{job.id}-" in served.paths_file
        run_backtest(database, worker, ids["m"])


def test_fit_serving_a_missing_object_and_backtest_on_memory(tmp_path):
    url = f"memory://fragility-{uuid.uuid4().hex[:12]}"
    panel, _ = tiny_panel()
    with worker_registry(tmp_path, panel, indicators=[], models=[model_payload(name="m", spillover=False)],
                         worker_name="memory-worker") as (database, settings, worker, ids):
        settings = worker.settings = settings.model_copy(update={"artifacts": url})
        worker.executor = make_executor(settings)
        assert isinstance(worker.executor, InProcessExecutor)
        try:
            result = fit_now(database, worker, ids["m"])
            assert result["promoted"], result
            store = settings_store(settings)
            cache = PathCache(store)
            with database.session() as session:
                served, stored = resolve(session, cache, "m")
                answer = probability_from_paths(cache, served, stored, fit_of(session, cache, served), region="R02",
                                                threshold=10, horizon=3, within=True).to_dict()
            assert served.number == 1 and 0 <= answer["probability"] <= 1
            run_backtest(database, worker, ids["m"])
            store.remove(served.paths_file)
            with database.session() as session:
                with pytest.raises(NoServedVersion, match="broken"):
                    resolve(session, PathCache(store), "m")
                broken = version_by_number(session, ids["m"], 1).broken
            assert broken == f"forecast paths of m v1 file {served.paths_file} is missing from the artifact store"
        finally:
            worker.executor.close()

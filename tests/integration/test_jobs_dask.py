"""The Dask executor: a real LocalCluster (one worker process) started here runs a real tiny fit job."""

from __future__ import annotations

import os

import pytest

from service.crud import queue
from service.crud.models import create_model
from service.db.engine import Database, run_migrations
from service.db.tables import Job, utc_now
from service.executors import DaskExecutor, make_executor
from service.jobs.worker import Worker
from service.serving.registry import served_version
from service.settings import GateThresholds, Settings
from tests.e2e.registry_support import GATE, model_payload, seed_database, tiny_panel


@pytest.fixture(scope="module")
def cluster():
    """Return a LocalCluster with one single-threaded worker process; closed after the module."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as local:
        yield local


def test_a_fit_job_runs_on_a_dask_worker_process(cluster, tmp_path):
    url = f"sqlite:///{tmp_path}/fragility.db"
    run_migrations(url)
    database = Database(url)
    seed_database(database, tiny_panel()[0])
    settings = Settings(database_url=url, artifacts=tmp_path / "artifacts", gate=GateThresholds(**GATE),
                        dask_scheduler=cluster.scheduler_address)
    executor = make_executor(settings)
    assert isinstance(executor, DaskExecutor)
    worker_pids = set(executor.client.run(os.getpid).values())
    assert os.getpid() not in worker_pids
    try:
        with database.session() as session:
            model = create_model(session, data=model_payload(name="dask-model"))
            job_id = queue.enqueue(session, kind="fit", model_id=model.id, now=utc_now())
            session.commit()
        assert Worker(database, settings, executor=executor).run_once() == job_id
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job.status == "succeeded", job.error
            assert job.result["task_pid"] in worker_pids, (job.result, worker_pids)
            assert served_version(session, "dask-model").number == 1
    finally:
        executor.close()
        database.dispose()

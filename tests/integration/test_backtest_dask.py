"""A backtest job on a real Dask LocalCluster of two single-threaded worker processes: its two origins run at once
on different workers, and the scores equal those of the same backtest run inline, one task after another."""

from __future__ import annotations

import pytest

from models.evaluation.backtest import origins_for, run_backtest
from service.crud import queue
from service.crud.jobs import backtest_out
from service.crud.models import create_model, load_fit_inputs, model_by_id, model_config
from service.db.engine import Database, run_migrations
from service.db.tables import Job, utc_now
from service.executors import DaskExecutor, make_executor
from service.jobs import tasks
from service.jobs.worker import Worker
from service.settings import GateThresholds, Settings
from tests.e2e.registry_support import GATE, STARVED_SAMPLER, model_payload, seed_database, tiny_panel

pytestmark = pytest.mark.slow  # two fresh worker processes compile the model: about 2 minutes on 2 cores


@pytest.fixture(scope="module")
def cluster():
    """Return a LocalCluster with two worker processes of one thread each; closed after the module.

    Worker saturation 1.0: the scheduler hands a one-thread worker one task at a time (Dask's default 1.1 sends
    it two, so both model fits could queue on one worker while the other runs the twin's).
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}), LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40) as local:
        yield local


def overlap(a: dict, b: dict) -> bool:
    """Return True when the [started, ended] intervals of two task records share an instant."""
    return a["started"] < b["ended"] and b["started"] < a["ended"]


def test_two_origins_run_at_once_on_two_dask_workers_with_the_sequential_scores(cluster, tmp_path):
    url = f"sqlite:///{tmp_path}/fragility.db"
    run_migrations(url)
    database = Database(url)
    seed_database(database, tiny_panel()[0])
    settings = Settings(database_url=url, artifacts=tmp_path / "artifacts", gate=GateThresholds(**GATE),
                        dask_scheduler=cluster.scheduler_address, job_lease_seconds=60)
    executor = make_executor(settings)
    assert isinstance(executor, DaskExecutor)
    try:
        with database.session() as session:
            model = create_model(session, data=model_payload(name="dask-backtest", sampler=STARVED_SAMPLER))
            job_id = queue.enqueue(session, kind="backtest", model_id=model.id, now=utc_now(),
                                   payload={"origins": 2, "step": 3, "horizon": 3})
            session.commit()
        assert Worker(database, settings, executor=executor).run_once() == job_id
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job.status == "succeeded", job.error
            result, out = job.result, backtest_out(session, job_id=job_id)
            config = model_config(model_by_id(session, job.model_id))
            frame, regions = load_fit_inputs(session, config=config)
    finally:
        executor.close()
        database.dispose()

    assert not result["failures"], result["failures"]
    model_tasks = [t for t in result["tasks"] if t["forecaster"] == "model"]
    assert sorted(t["origin"] for t in model_tasks) == sorted(result["origins"]) and len(model_tasks) == 2
    first, second = model_tasks
    assert overlap(first, second), model_tasks
    assert first["worker"] != second["worker"], model_tasks
    assert len(result["workers"]) == 2 and all(w.startswith("tcp://") for w in result["workers"]), result["workers"]

    panel = tasks.build_panel(frame, regions, config["normalise"])
    origins = origins_for(panel, config["indicator"], 2, 3, 3)
    inline = run_backtest(panel, config["indicator"], tasks.backtest_forecasters(config), origins, 3,
                          seed=int(config["sampler"]["seed"]))
    assert out["scores"] == tasks.json_value(inline.to_dict())["scores"]

"""A worker running real (tiny) fits from the queue on SQLite: promotion, the gate, skipped refits,
broken artifacts. No HTTP here; tests/e2e/ drives the same path through a real server.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from models.questions.sources import grid_size
from service.crud import queue
from service.crud.models import create_model, update_model
from service.db.engine import Database, run_migrations
from service.db.tables import Job, ModelVersion, utc_now
from service.errors import ArtifactCorrupt, NoServedVersion
from service.executors import LocalExecutor
from service.jobs.scheduler import enqueue_due
from service.jobs.worker import Worker
from service.serving.cached_source import probability_from_paths, spillover_from_paths
from service.serving.path_cache import PathCache, fit_of, resolve
from service.serving.registry import served_version
from service.settings import GateThresholds, Settings
from tests.e2e.registry_support import (
    GATE,
    GOOD_SAMPLER,
    STARVED_SAMPLER,
    backtest_now,
    model_payload,
    seed_database,
    tiny_panel,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, model id) on a migrated SQLite file seeded with the tiny panel."""
    root = tmp_path_factory.mktemp("registry")
    url = f"sqlite:///{root}/fragility.db"
    run_migrations(url)
    database = Database(url)
    panel, _ = tiny_panel()
    seed_database(database, panel)
    settings = Settings(database_url=url, artifacts=root / "artifacts", gate=GateThresholds(**GATE),
                        job_lease_seconds=30)
    executor = LocalExecutor(1)
    worker = Worker(database, settings, executor=executor, name="test-worker")
    with database.session() as session:
        model = create_model(session, data=model_payload(name="m", schedule="* * * * *"))
        model.created_at = utc_now() - timedelta(days=1)  # so the current cron tick is after its creation
        session.commit()
        model_id = model.id
    yield database, settings, worker, model_id
    executor.close()
    database.dispose()


def run_job(database, worker, model_id, reason="explicit", tick=None) -> Job:
    with database.session() as session:
        job_id = queue.enqueue(session, kind="fit", model_id=model_id, now=utc_now(), reason=reason, tick=tick)
        session.commit()
    assert worker.run_once() == job_id
    with database.session() as session:
        return session.get(Job, job_id)


def test_fit_is_promoted_then_a_starved_fit_fails_the_gate_and_v1_keeps_serving(setup):
    database, settings, worker, model_id = setup
    job = run_job(database, worker, model_id)
    assert job.status == "succeeded", job.error
    assert job.result["version"] == 1 and job.result["promoted"] is True, job.result
    with database.session() as session:
        served = served_version(session, "m")
        assert served.number == 1 and served.paths_horizon == 6
        assert (Path(settings.artifacts) / served.paths_file).is_file()
        update_model(session, name="m", changes={"sampler": STARVED_SAMPLER})
    job = run_job(database, worker, model_id)
    assert job.status == "succeeded", job.error
    assert job.result["version"] == 2 and job.result["promoted"] is False
    with database.session() as session:
        v2 = session.query(ModelVersion).filter_by(model_id=model_id, number=2).one()
        assert not v2.gate_passed and any("ess_bulk" in r or "rhat" in r for r in v2.gate_reasons), v2.gate_reasons
        assert v2.paths_file is None
        assert served_version(session, "m").number == 1


def test_scheduled_refit_with_unchanged_data_and_spec_is_skipped(setup):
    database, settings, worker, model_id = setup
    with database.session() as session:
        update_model(session, name="m", changes={"sampler": GOOD_SAMPLER})
    (job_id,) = enqueue_due(database, now=utc_now(), max_attempts=3)
    assert worker.run_once() == job_id
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job.status == "succeeded" and job.reason == "scheduled"
        assert job.result["skipped"] is True and "unchanged since version 1" in job.result["reason"]
        assert job.version_id is None


def test_a_corrupt_paths_file_marks_the_version_broken(setup):
    database, settings, worker, model_id = setup
    cache = PathCache(settings.artifacts)
    with database.session() as session:
        served = served_version(session, "m")
        path = Path(settings.artifacts) / served.paths_file
        path.write_bytes(path.read_bytes()[:-10] + b"corrupted!")
        with pytest.raises(ArtifactCorrupt):
            cache.forecast(served)
        with pytest.raises(NoServedVersion, match="broken"):
            resolve(session, cache, "m")
        v1 = session.query(ModelVersion).filter_by(model_id=model_id, number=1).one()
        session.refresh(v1)
        assert "corrupt" in v1.broken



def test_a_forecast_job_rebuilds_broken_paths_from_the_posterior(setup):
    database, settings, worker, model_id = setup
    with database.session() as session:
        job_id = queue.enqueue(session, kind="forecast", model_id=model_id, now=utc_now(), payload={"version": 1})
        session.commit()
    assert worker.run_once() == job_id
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job.status == "succeeded", job.error
        served, paths = resolve(session, PathCache(settings.artifacts), "m")
        assert served.number == 1 and paths.paths.shape[1:] == (6, 4)
        v1 = session.query(ModelVersion).filter_by(model_id=model_id, number=1).one()
        assert v1.broken is None and f"job-{job_id}-" in v1.paths_file

def test_served_probability_and_spillover_equal_the_library_for_the_same_version_and_seed(setup):
    """What the HTTP routes answer (read from the stored paths and the cached posterior grid) is the library's
    answer on the version's posterior with the version's draws and seed, intervals included."""
    database, settings, worker, model_id = setup
    cache = PathCache(settings.artifacts)
    with database.session() as session:
        served, stored = resolve(session, cache, "m")
        fit = fit_of(session, cache, served)
        answer = spillover_from_paths(cache, served, stored, fit, source="R01", target="R02", threshold=15,
                                      horizon=served.paths_horizon).to_dict()
        probability = probability_from_paths(cache, served, stored, fit, region="R02", threshold=10,
                                             horizon=served.paths_horizon, within=True).to_dict()
    library = fit.spillover("R01", "R02", threshold=15, horizon=served.paths_horizon, draws=served.paths_draws,
                            seed=served.paths_seed).to_dict()
    assert "credible interval" in answer["interval_method"] and answer["posterior_draws"] >= 20
    for key in ("probability", "probability_interval", "attributable", "attributable_interval", "channel_share",
                "channel_share_interval", "mc_standard_error", "interval_method"):
        assert answer[key] == library[key], key
    grid = fit.forecast(horizon=served.paths_horizon, seed=served.paths_seed, grid=True, condition=("R02", 10.0),
                        **grid_size(event=True))
    expected = fit.forecast(horizon=served.paths_horizon, draws=served.paths_draws,
                            seed=served.paths_seed).probability("R02", 10, grid=grid)
    assert probability["credible_interval"] == expected["credible_interval"] is not None
    assert probability["probability"] == expected["probability"]


def test_backtest_job_scores_the_model_beside_baselines(setup):
    database, settings, worker, model_id = setup
    with database.session() as session:
        update_model(session, name="m", changes={"sampler": STARVED_SAMPLER})  # quick fits at every origin
        session.commit()
    out = backtest_now(database, worker, model_id, {"origins": 2, "step": 2, "horizon": 3})
    forecasters = {row["forecaster"] for row in out["scores"]}
    assert forecasters == {"zero", "persistence", "bootstrap", "model", "no_spillover"}, out["failures"]
    assert {row["horizon"] for row in out["scores"]} == {1, 2, 3}
    assert {row["region"] for row in out["by_region"]} == {"R01", "R02", "R03", "R04"}
    with database.session() as session:
        result = session.get(Job, out["id"]).result
    assert len(result["tasks"]) == 10 and all(t["started"] <= t["ended"] for t in result["tasks"])
    host, pid = result["workers"][0].rsplit(":", 1)  # the one pool process, not this one
    assert len(result["workers"]) == 1 and host == socket.gethostname() and int(pid) != os.getpid()

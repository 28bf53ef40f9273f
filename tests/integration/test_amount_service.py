"""An amount model fitted through the service path on SQLite: registry, queue, a real Worker with a
LocalExecutor (spawned process, real nutpie fit), promotion, the served forecast and a spillover answer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from indicators import simulate_amount_panel
from service.api.routes.forecasts import forecast_body
from service.crud.models import create_model
from service.db import Database, run_migrations
from service.executors import LocalExecutor
from service.jobs import queue
from service.jobs.worker import Worker
from service.path_cache import PathCache, fit_of, resolve
from service.settings import GateThresholds, Settings
from service.tables_registry import Job, utc_now
from tests.e2e.registry_support import GATE, GOOD_SAMPLER, seed_database

INDICATOR = "seizures_kg"
N_REGIONS, N_PERIODS, HORIZON = 4, 60, 6


def seed_amounts(database, panel) -> None:
    """Store the panel's regions, the indicator and its observations; returns nothing."""
    seed_database(database, panel, indicator={"id": INDICATOR, "kind": "amount", "unit": "kg", "description": "synthetic seizures"})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, model id) on a migrated SQLite file seeded with an amount panel."""
    root = tmp_path_factory.mktemp("amount-registry")
    url = f"sqlite:///{root}/fragility.db"
    run_migrations(url)
    database = Database(url)
    panel, _ = simulate_amount_panel(N_REGIONS, N_PERIODS, seed=3, graph="ring")
    seed_amounts(database, panel)
    settings = Settings(database_url=url, artifacts=root / "artifacts", gate=GateThresholds(**GATE),
                        job_lease_seconds=30)
    executor = LocalExecutor(1)
    worker = Worker(database, settings, executor=executor, name="amount-test-worker")
    with database.session() as session:
        model = create_model(session, data={
            "name": "seizures", "family": "amount", "indicator": INDICATOR, "regions": [], "covariates": [],
            "spillover": True, "horizon": HORIZON, "sampler": GOOD_SAMPLER})
        model_id = model.id
    yield database, settings, worker, model_id
    executor.close()
    database.dispose()


@pytest.mark.slow  # a spawned process compiles and samples 2 x 2000 draws: 65-130 s at load average 17-20
def test_amount_fit_is_promoted_and_serves_non_negative_forecasts_with_zeros(setup):
    database, settings, worker, model_id = setup
    with database.session() as session:
        job_id = queue.enqueue(session, kind="fit", model_id=model_id, now=utc_now(), reason="explicit")
        session.commit()
    assert worker.run_once() == job_id
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job.status == "succeeded", job.error
        assert job.result["version"] == 1 and job.result["promoted"] is True, job.result
        print("fit job", job.result)

        cache = PathCache(settings.artifacts)
        served, stored = resolve(session, cache, "seizures")
        assert served.number == 1 and served.paths_horizon == HORIZON
        assert stored.paths.shape[1:] == (HORIZON, N_REGIONS)
        assert np.all(np.isfinite(stored.paths)) and np.all(stored.paths >= 0)
        assert (stored.paths == 0).mean() > 0.05 and np.any(stored.paths != np.round(stored.paths))

        answer = json.loads(forecast_body(session, cache, "seizures", None, "R01", 3, (0.05, 0.5, 0.95)))
        assert answer["indicator"] == INDICATOR and len(answer["steps"]) == 3
        assert all(step["mean"] > 0 and step["quantiles"]["0.05"] >= 0 for step in answer["steps"]), answer

        fit = fit_of(session, cache, served)
        assert fit.spec.family == "amount"
        spill = fit.spillover("R02", "R01", threshold=10.0, horizon=HORIZON, draws=500)
        assert 0 <= spill["probability_without_source"] <= 1 and spill["normalise"] == "target", spill

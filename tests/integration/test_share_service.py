"""A share model fitted through the service path on SQLite: registry, queue, a real Worker with a
LocalExecutor (spawned process, real nutpie fit), promotion, the served forecast in [0, 1] and a
spillover answer read from the stored posterior.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from indicators import simulate_share_panel
from service.api.routes.forecasts import forecast_body
from service.crud.models import create_model
from service.db import Database, run_migrations
from service.executors import LocalExecutor
from service.jobs import queue
from service.jobs.worker import Worker
from service.path_cache import PathCache, fit_of, resolve
from service.settings import GateThresholds, Settings
from service.tables_registry import Job, utc_now
from tests.e2e.registry_support import GATE, seed_database

INDICATOR = "militia_share"
SAMPLER = {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1}
N_REGIONS, N_PERIODS, HORIZON = 4, 60, 6


def seed_shares(database, panel) -> None:
    """Store the panel's regions, the indicator and its observations; returns nothing."""
    seed_database(database, panel, indicator={"id": INDICATOR, "kind": "share", "unit": "fraction of territory", "description": "synthetic militia control"})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, model id, panel) on a migrated SQLite file seeded with a share panel."""
    root = tmp_path_factory.mktemp("share-registry")
    url = f"sqlite:///{root}/fragility.db"
    run_migrations(url)
    database = Database(url)
    panel, _ = simulate_share_panel(N_REGIONS, N_PERIODS, seed=3, graph="ring")
    seed_shares(database, panel)
    settings = Settings(database_url=url, artifacts=root / "artifacts", gate=GateThresholds(**GATE),
                        job_lease_seconds=30)
    executor = LocalExecutor(1)
    worker = Worker(database, settings, executor=executor, name="share-test-worker")
    with database.session() as session:
        model = create_model(session, data={
            "name": "militia", "family": "share", "indicator": INDICATOR, "regions": [], "covariates": [],
            "spillover": True, "horizon": HORIZON, "sampler": SAMPLER})
        model_id = model.id
    yield database, settings, worker, model_id, panel
    executor.close()
    database.dispose()


@pytest.mark.slow  # a spawned process compiles and samples: ~60 s at load average ~10
def test_share_fit_is_promoted_and_serves_forecasts_in_the_unit_interval(setup):
    database, settings, worker, model_id, panel = setup
    values = panel.values(INDICATOR)
    assert (values == 0).any() and (values == 1).any()  # exact 0s and 1s reach the fit
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
        served, stored = resolve(session, cache, "militia")
        assert served.number == 1 and served.paths_horizon == HORIZON
        assert stored.paths.shape[1:] == (HORIZON, N_REGIONS)
        assert np.all(np.isfinite(stored.paths)) and np.all((stored.paths >= 0) & (stored.paths <= 1))
        assert (stored.paths == 0).any() and (stored.paths == 1).any()

        answer = json.loads(forecast_body(session, cache, "militia", None, "R03", 3, (0.05, 0.5, 0.95)))
        assert answer["indicator"] == INDICATOR and len(answer["steps"]) == 3
        for step in answer["steps"]:
            q = step["quantiles"]
            assert 0 <= q["0.05"] <= q["0.5"] <= q["0.95"] <= 1 and 0 <= step["mean"] <= 1, answer

        fit = fit_of(session, cache, served)
        assert fit.spec.family == "share" and fit.spec.options == {"floor": 0.01}
        spill = fit.spillover("R04", "R03", threshold=0.5, horizon=HORIZON, draws=500)
        assert 0 <= spill["probability_without_source"] <= 1 and spill["normalise"] == "target", spill

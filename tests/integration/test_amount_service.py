"""An amount model fitted through the service path on SQLite: registry, queue, a real Worker with a
LocalExecutor (spawned process, real nutpie fit), promotion, the served forecast and a spillover answer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from indicators import simulate_amount_panel
from service.api.routes.forecasts import forecast_body
from service.serving.path_cache import PathCache, fit_of, resolve
from tests.e2e.registry_support import GOOD_SAMPLER, fit_now, worker_registry

INDICATOR = "seizures_kg"
N_REGIONS, N_PERIODS, HORIZON = 4, 60, 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, model id) on a migrated SQLite file seeded with an amount panel."""
    panel, _ = simulate_amount_panel(N_REGIONS, N_PERIODS, seed=3, graph="ring")
    indicator = {"id": INDICATOR, "kind": "amount", "unit": "kg", "description": "synthetic seizures"}
    model = {"name": "seizures", "family": "amount", "indicator": INDICATOR, "regions": [], "covariates": [],
             "spillover": True, "horizon": HORIZON, "sampler": GOOD_SAMPLER}
    with worker_registry(tmp_path_factory.mktemp("amount-registry"), panel, indicators=[indicator], models=[model],
                         worker_name="amount-test-worker") as (database, settings, worker, ids):
        yield database, settings, worker, ids["seizures"]


@pytest.mark.slow  # a spawned process compiles and samples 2 x 2000 draws: 65-130 s at load average 17-20
def test_amount_fit_is_promoted_and_serves_non_negative_forecasts_with_zeros(setup):
    database, settings, worker, model_id = setup
    result = fit_now(database, worker, model_id)
    assert result["version"] == 1 and result["promoted"] is True, result
    print("fit job", result)
    with database.session() as session:
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
        spill = fit.spillover("R02", "R01", threshold=10.0, horizon=HORIZON, draws=500).to_dict()
        assert 0 <= spill["probability_without_source"] <= 1 and spill["normalise"] == "target", spill

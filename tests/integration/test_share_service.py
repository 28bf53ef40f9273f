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
from service.serving.path_cache import PathCache, fit_of, resolve
from tests.e2e.registry_support import fit_now, worker_registry

INDICATOR = "militia_share"
SAMPLER = {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1}
N_REGIONS, N_PERIODS, HORIZON = 4, 60, 6


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, model id, panel) on a migrated SQLite file seeded with a share panel."""
    panel, _ = simulate_share_panel(N_REGIONS, N_PERIODS, seed=3, graph="ring")
    indicator = {"id": INDICATOR, "kind": "share", "unit": "fraction of territory",
                 "description": "synthetic militia control"}
    model = {"name": "militia", "family": "share", "indicator": INDICATOR, "regions": [], "covariates": [],
             "spillover": True, "horizon": HORIZON, "sampler": SAMPLER}
    with worker_registry(tmp_path_factory.mktemp("share-registry"), panel, indicators=[indicator], models=[model],
                         worker_name="share-test-worker") as (database, settings, worker, ids):
        yield database, settings, worker, ids["militia"], panel


@pytest.mark.slow  # a spawned process compiles and samples: ~60 s at load average ~10
def test_share_fit_is_promoted_and_serves_forecasts_in_the_unit_interval(setup):
    database, settings, worker, model_id, panel = setup
    values = panel.values(INDICATOR)
    assert (values == 0).any() and (values == 1).any()  # exact 0s and 1s reach the fit
    result = fit_now(database, worker, model_id)
    assert result["version"] == 1 and result["promoted"] is True, result
    print("fit job", result)
    with database.session() as session:
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
        spill = fit.spillover("R04", "R03", threshold=0.5, horizon=HORIZON, draws=500).to_dict()
        assert 0 <= spill["probability_without_source"] <= 1 and spill["normalise"] == "target", spill

"""A count model whose covariate (a militia share) has its own served model, through the service path on SQLite:
registry, queue, a real Worker with a LocalExecutor (spawned process, real nutpie fits).

Before the share model is served, the count model's paths hold the covariate and say why; once it is
served, a refit moves the covariate with it (path i of the share forecast feeds path i of the counts),
the answers say "modelled" and name the share model's version, and the stored paths are reproduced
exactly from the posterior plus the covariate paths stored beside them (what cut runs rely on).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from indicators import simulate_count_panel, simulate_share_panel
from service.api.routes.forecasts import forecast_body
from service.serving.cached_source import spillover_from_paths
from service.serving.path_cache import PathCache, fit_of, resolve
from tests.e2e.registry_support import GOOD_SAMPLER, fit_now, worker_registry

COVARIATE = "militia_share"
SHARE_SAMPLER = {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1}
N_REGIONS, N_PERIODS, HORIZON = 4, 60, 6
INDICATORS = [{"id": "attacks", "kind": "count", "unit": "events", "description": "synthetic"},
              {"id": COVARIATE, "kind": "share", "unit": "fraction", "description": "synthetic militia control"}]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, {model name: id}) on a migrated SQLite file with counts driven by a share."""
    shares, _ = simulate_share_panel(N_REGIONS, N_PERIODS, seed=3, graph="ring")
    panel, _ = simulate_count_panel(N_REGIONS, N_PERIODS, seed=4, graph="ring",
                                    covariate=(COVARIATE, shares.values(COVARIATE)), beta=1.0)
    common = {"regions": [], "spillover": True, "horizon": HORIZON}
    models = [{"name": "attacks-cov", "family": "count", "indicator": "attacks", "covariates": [COVARIATE],
               "sampler": GOOD_SAMPLER, **common},
              {"name": "militia", "family": "share", "indicator": COVARIATE, "covariates": [],
               "sampler": SHARE_SAMPLER, **common}]
    with worker_registry(tmp_path_factory.mktemp("covariate-registry"), panel, indicators=INDICATORS, models=models,
                         worker_name="covariate-test-worker") as context:
        yield context


@pytest.mark.slow  # three fits in a spawned process: ~2-3 min on 2 cores
def test_covariate_is_held_until_its_model_serves_then_moves_with_it(setup):
    database, settings, worker, ids = setup
    first = fit_now(database, worker, ids["attacks-cov"])
    assert first["promoted"] is True and first["covariates_mode"] == "held", first
    assert "no registered model of 'militia_share' has a served version" in first["covariates"][COVARIATE]["reason"]

    assert fit_now(database, worker, ids["militia"])["promoted"] is True
    second = fit_now(database, worker, ids["attacks-cov"])
    assert second["version"] == 2 and second["covariates_mode"] == "modelled", second
    assert second["covariates"][COVARIATE] | {"model": "militia", "version": 1} == second["covariates"][COVARIATE]

    with database.session() as session:
        cache = PathCache(settings.artifacts)
        answer = json.loads(forecast_body(session, cache, "attacks-cov", None, "R02", HORIZON, (0.05, 0.5, 0.95)))
        assert answer["version"] == 2 and answer["covariates_mode"] == "modelled", answer
        detail = answer["covariates"][COVARIATE]
        assert detail["model"] == "militia" and detail["mode"] == "modelled" and detail["held_regions"] == []
        old = json.loads(forecast_body(session, cache, "attacks-cov", 1, "R02", HORIZON, (0.5,)))
        assert old["covariates_mode"] == "held" and "reason" in old["covariates"][COVARIATE]

        served, stored = resolve(session, cache, "attacks-cov")
        fit = fit_of(session, cache, served)
        again = fit.forecast(horizon=served.paths_horizon, draws=served.paths_draws, seed=served.paths_seed,
                             covariates=stored.covariates)
        np.testing.assert_array_equal(again.paths, stored.paths)
        held = fit.forecast(horizon=served.paths_horizon, draws=served.paths_draws, seed=served.paths_seed)
        np.testing.assert_array_equal(held.paths[:, 0], stored.paths[:, 0])  # step 1 reads the observed lag
        assert not np.array_equal(held.paths[:, 1:], stored.paths[:, 1:])

        # what the spillover route computes (in its question pool) for this served version
        spill = spillover_from_paths(cache, served, stored, fit, source="R01", target="R02", threshold=5,
                                     horizon=HORIZON).to_dict()
        assert spill["covariates_mode"] == "modelled"
        target = served.regions.index("R02")
        assert spill["probability"] == pytest.approx(float((stored.paths[:, :, target] >= 5).any(axis=1).mean()))
        assert 0 <= spill["probability_without_source"] <= 1

"""The share and amount families fitted through the service path on SQLite: registry, queue, a real Worker with
a LocalExecutor (spawned process, real nutpie fit), promotion, the served forecast within the family's range and
a spillover answer read from the stored posterior; the model's options reach its fit. One test, parametrised by
family (what differs is a `Case`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from indicators import simulate_amount_panel, simulate_share_panel
from service.api.routes.forecasts import forecast_body
from service.serving.path_cache import PathCache, fit_of, resolve
from tests.e2e.registry_support import GOOD_SAMPLER, fit_now, worker_registry

N_REGIONS, N_PERIODS, HORIZON = 4, 60, 6


@dataclass(frozen=True)
class Case:
    """One family's service run: its panel, indicator, model body and what its served paths must satisfy."""

    family: str
    simulate_panel: Callable
    indicator: dict
    sampler: dict
    paths_ok: Callable[[np.ndarray], bool]
    step_ok: Callable[[dict], bool]
    served_region: str
    source: str
    threshold: float
    options: dict


CASES = {
    "share": Case(
        "share", simulate_share_panel,
        {"id": "militia_share", "kind": "share", "unit": "fraction of territory", "description": "synthetic militia"},
        {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1},
        # exact 0s and 1s in the panel reach the fit and come back in its paths
        lambda p: bool(np.all((p >= 0) & (p <= 1)) and (p == 0).any() and (p == 1).any()),
        lambda s: 0 <= s["quantiles"]["0.05"] <= s["quantiles"]["0.5"] <= s["quantiles"]["0.95"] <= 1
        and 0 <= s["mean"] <= 1,
        "R03", "R04", 0.5, {"floor": 0.02}),  # not the default 0.01: the fit job builds the model with it
    "amount": Case(
        "amount", simulate_amount_panel,
        {"id": "seizures_kg", "kind": "amount", "unit": "kg", "description": "synthetic seizures"},
        GOOD_SAMPLER,
        lambda p: bool(np.all(p >= 0) and (p == 0).mean() > 0.05 and np.any(p != np.round(p))),
        lambda s: s["mean"] > 0 and s["quantiles"]["0.05"] >= 0,
        "R01", "R02", 10.0, {"persistence": True}),
}


@pytest.fixture(scope="module", params=list(CASES))
def setup(request, tmp_path_factory):
    """Return (case, database, settings, worker, model id, panel) on a migrated SQLite file seeded with the
    family's synthetic panel."""
    case = CASES[request.param]
    panel, _ = case.simulate_panel(N_REGIONS, N_PERIODS, seed=3, graph="ring")
    model = {"name": case.family, "family": case.family, "indicator": case.indicator["id"], "regions": [],
             "covariates": [], "spillover": True, "horizon": HORIZON, "sampler": case.sampler, "options": case.options}
    with worker_registry(tmp_path_factory.mktemp(f"{case.family}-registry"), panel, indicators=[case.indicator],
                         models=[model], worker_name=f"{case.family}-test-worker") as (database, settings, worker, ids):
        yield case, database, settings, worker, ids[case.family], panel


@pytest.mark.slow  # a spawned process compiles and samples: 60-130 s a family at load average 10-20
def test_a_family_fit_is_promoted_and_serves_forecasts_in_its_range(setup):
    case, database, settings, worker, model_id, panel = setup
    result = fit_now(database, worker, model_id)
    assert result["version"] == 1 and result["promoted"] is True, result
    with database.session() as session:
        cache = PathCache(settings.artifacts)
        served, stored = resolve(session, cache, case.family)
        assert served.number == 1 and served.paths_horizon == HORIZON
        assert stored.paths.shape[1:] == (HORIZON, N_REGIONS)
        assert np.all(np.isfinite(stored.paths)) and case.paths_ok(stored.paths)

        answer = json.loads(forecast_body(session, cache, case.family, None, case.served_region, 3,
                                          (0.05, 0.5, 0.95)))
        assert answer["indicator"] == case.indicator["id"] and len(answer["steps"]) == 3
        assert all(case.step_ok(step) for step in answer["steps"]), answer

        fit = fit_of(session, cache, served)
        assert fit.spec.family == case.family and fit.spec.options == case.options, fit.spec
        spill = fit.spillover(case.source, case.served_region, threshold=case.threshold, horizon=HORIZON,
                              draws=500).to_dict()
        assert 0 <= spill["probability_without_source"] <= 1 and spill["normalise"] == "target", spill

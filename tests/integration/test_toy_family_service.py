"""A family added through the registry alone (the one folder tests/toy_family) goes through the service: the
request schema accepts it, a real Worker (a spawned process: its pool imports the modules of the parent's
families) fits and promotes it, the served forecast reads its paths, and a backtest job scores it beside the
baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

import tests.toy_family  # noqa: F401  (registers the "toy" family in this process)
from service.api.routes.forecasts import forecast_body
from service.schemas.models import ModelIn
from service.serving.path_cache import PathCache, resolve
from tests.e2e.registry_support import backtest_now, fit_now, tiny_panel, worker_registry

HORIZON = 4
MODEL = {"name": "toy-model", "family": "toy", "indicator": "attacks", "regions": [], "covariates": [],
         "spillover": False, "horizon": HORIZON,
         "sampler": {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Return (database, settings, worker, model id, panel): the toy model created through its request schema."""
    panel, _ = tiny_panel()
    body = ModelIn.model_validate(MODEL).model_dump(mode="json")
    with worker_registry(tmp_path_factory.mktemp("toy-registry"), panel, indicators=[], models=[body],
                         worker_name="toy-test-worker") as (database, settings, worker, ids):
        yield database, settings, worker, ids["toy-model"], panel


def test_the_request_schema_knows_registered_families_only():
    assert ModelIn.model_validate(MODEL).family == "toy"
    with pytest.raises(ValidationError, match="toy"):  # the error lists the known families, the toy among them
        ModelIn.model_validate({**MODEL, "family": "no-such-family"})


def test_a_registered_family_is_fitted_served_and_backtested_by_the_service(setup):
    database, settings, worker, model_id, panel = setup
    result = fit_now(database, worker, model_id)
    assert result["version"] == 1 and result["promoted"] is True, result
    with database.session() as session:
        cache = PathCache(settings.artifacts)
        served, stored = resolve(session, cache, "toy-model")
        assert served.number == 1 and stored.paths.shape[1:] == (HORIZON, len(panel.regions))
        assert np.all(np.isfinite(stored.paths)) and np.all(stored.paths >= 0)
        answer = json.loads(forecast_body(session, cache, "toy-model", None, panel.regions[0], 3, (0.05, 0.5, 0.95)))
        assert answer["indicator"] == "attacks" and len(answer["steps"]) == 3
        pooled_mean = float(np.nanmean(panel.values("attacks")))
        assert 0.3 * pooled_mean < answer["steps"][0]["mean"] < 3 * pooled_mean, (answer, pooled_mean)

    out = backtest_now(database, worker, model_id, {"origins": 2, "step": 3, "horizon": 2})
    assert {row["forecaster"] for row in out["scores"]} == {"zero", "persistence", "bootstrap", "model"}, out

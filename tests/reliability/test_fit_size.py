"""A model's regions and its fit's size are bounded before any work (issue 28, item 1), against a real
`fragility serve` process (and, for a model stored before the limits, a real worker):

- `regions: []` is recorded as the regions that have data for the indicator, not every stored region
  (50 regions without data are added first), and shown by GET;
- a sampler of 16 chains x 100,000 draws, or more regions than FRAGILITY_MAX_MODEL_REGIONS, is a 422
  naming the field (`sampler`, `regions`) and the rule; nothing is stored;
- a fit whose model exceeds the limits (stored before them) fails at once, before sampling, naming the rule.
"""

from __future__ import annotations

import pytest

from tests.e2e.registry_support import model_payload
from tests.reliability.conftest import fit_model, make_seeded

pytestmark = pytest.mark.e2e

EMPTY_REGIONS = [{"id": f"EMPTY{i:02d}", "name": f"No data {i}", "neighbours": []} for i in range(50)]


@pytest.fixture(scope="module")
def server(live_server, seeded):
    """Return a server on the seeded database with 50 more regions that have no data."""
    started = live_server(seeded.url, seeded.artifacts, env={"FRAGILITY_MAX_MODEL_REGIONS": "4"})
    with started.client(started.write_key) as client:
        assert client.post("/v1/regions", json={"regions": EMPTY_REGIONS}).status_code == 200
    return started


def test_empty_regions_are_the_regions_with_data_recorded_and_shown(server):
    with server.client(server.write_key) as client:
        created = client.post("/v1/models", json=model_payload(name="defaulted"))
        assert created.status_code == 201, created.text
        assert created.json()["regions"] == ["R01", "R02", "R03", "R04"]
        assert client.get("/v1/models/defaulted").json()["regions"] == ["R01", "R02", "R03", "R04"]


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"sampler": {"method": "nutpie", "chains": 16, "draws": 100_000, "tune": 100, "seed": 1}}, "sampler",
     "FRAGILITY_MAX_POSTERIOR_VALUES"),
    ({"regions": ["R01", "R02", "R03", "R04", "EMPTY00"]}, "regions", "FRAGILITY_MAX_MODEL_REGIONS"),
])
def test_oversize_fit_is_422_naming_the_field_and_the_rule_and_stores_nothing(server, change, field, rule):
    with server.client(server.write_key) as client:
        answer = client.post("/v1/models", json=model_payload(name="too-big", **change))
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert [e["field"] for e in body["errors"]] == [field] and rule in body["errors"][0]["reason"], body
        assert len(answer.content) < 2000
        assert client.get("/v1/models/too-big").status_code == 404
        assert client.post("/v1/models", json=model_payload(name=f"small-{field}")).status_code == 201
        changed = client.patch(f"/v1/models/small-{field}", json=change)
        assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == field, changed.text
        assert client.get(f"/v1/models/small-{field}").json()["regions"] == ["R01", "R02", "R03", "R04"]


def test_a_fit_over_the_limit_fails_before_sampling_naming_the_rule(tmp_path):
    seeded = make_seeded(tmp_path)
    try:
        job = fit_model(seeded, "stored-before", expect_success=False, max_posterior_values=1000)
    finally:
        seeded.database.dispose()
    assert job.status == "failed" and job.version_id is None, (job.status, job.error)
    assert "FRAGILITY_MAX_POSTERIOR_VALUES" in job.error and "sampler" in job.error, job.error

"""Ownership, region id case and bounded 422 bodies (issue 28, item 9), against a real `fragility serve`:

- a write key changes, fits and backtests only the models it created and cancels only the jobs it queued
  (403 naming the owner rule); the owner and an admin key may;
- a region id that differs from another only in letter case (`irq` beside `IRQ`) is refused naming `id`;
- a 422 listing 3,000 unknown regions stays small: the ids are truncated with a count, row errors capped.
"""

from __future__ import annotations

import pytest

from tests.conftest import create_cli_key
from tests.e2e.registry_support import model_payload
from tests.reliability.conftest import make_seeded

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(live_server, tmp_path_factory):
    """Return a server on the seeded database (R01..R04 with data) and a second write key."""
    seeded = make_seeded(tmp_path_factory.mktemp("owners"))
    started = live_server(seeded.url, seeded.artifacts)
    started.other_write_key = create_cli_key("write", started.env)
    yield started
    seeded.database.dispose()


def test_a_write_key_changes_only_its_own_models_and_jobs(server):
    with server.client(server.write_key) as owner, server.client(server.other_write_key) as other:
        assert owner.post("/v1/models", json=model_payload(name="mine")).status_code == 201
        job = owner.post("/v1/models/mine/fit").json()["job_id"]
        refused = {
            "patch": other.patch("/v1/models/mine", json={"horizon": 3}),
            "put": other.put("/v1/models/mine", json=model_payload(name="mine", horizon=3)),
            "fit": other.post("/v1/models/mine/fit"),
            "backtest": other.post("/v1/models/mine/backtests", json={"origins": 2, "horizon": 3}),
            "cancel": other.post(f"/v1/jobs/{job}/cancel"),
        }
        for what, answer in refused.items():
            assert answer.status_code == 403 and answer.json()["error"] == "NotOwner", (what, answer.text)
        assert owner.get("/v1/models/mine").json()["horizon"] == 6
        assert owner.get(f"/v1/jobs/{job}").json()["status"] == "queued"
        assert owner.patch("/v1/models/mine", json={"horizon": 4}).status_code == 200
    with server.client(server.admin_key) as admin:
        assert admin.patch("/v1/models/mine", json={"horizon": 5}).status_code == 200
        assert admin.post(f"/v1/jobs/{job}/cancel").json()["status"] == "cancelled"


def test_region_ids_differing_only_in_case_are_refused(server):
    with server.client(server.write_key) as client:
        answer = client.post("/v1/regions", json={"regions": [{"id": "r01", "name": "Lower", "neighbours": []}]})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "id" and "R01" in answer.json()["errors"][0]["reason"]
        both = [{"id": "NEWX", "name": "A", "neighbours": []}, {"id": "newx", "name": "B", "neighbours": []}]
        assert client.post("/v1/regions", json={"regions": both}).status_code == 422
        assert client.get("/v1/regions").json()["count"] == 4


def test_422_bodies_stay_small_with_thousands_of_unknown_regions(server):
    unknown = [f"NOPE{i:05d}" for i in range(3000)]
    with server.client(server.write_key) as client:
        model = client.post("/v1/models", json=model_payload(name="huge", regions=unknown))
        assert model.status_code == 422 and "2980 more (3000 in all)" in model.json()["detail"], model.text[:500]
        rows = [{"region": region, "indicator": "attacks", "period": "2020-01", "value": 1} for region in unknown]
        batch = client.post("/v1/observations", json={"observations": rows})
        assert batch.status_code == 422 and len(batch.json()["errors"]) == 100
        assert "3000 errors" in batch.json()["detail"]
    print(f"422 bodies: model {len(model.content)} bytes, batch {len(batch.content)} bytes")
    assert len(model.content) < 2_000 and len(batch.content) < 30_000

"""Registry routes in-process (TestClient on the real app and a real database): model CRUD, validation,
scopes, jobs and their cancellation, answers before any fit. Fits are exercised in tests/e2e/."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.crud.keys import create_key
from service.db.engine import Database, run_migrations
from service.settings import Settings
from tests.e2e.registry_support import model_payload, seed_database, tiny_panel


@pytest.fixture(scope="module")
def api(database_url, tmp_path_factory):
    """Yield (client with a write key, read key) on an app over a seeded database."""
    run_migrations(database_url)
    database = Database(database_url)
    seed_database(database, tiny_panel()[0])
    with database.session() as session:
        _, write = create_key(session=session, scope="write")
        _, read = create_key(session=session, scope="read")
        session.commit()
    database.dispose()
    settings = Settings(database_url=database_url, artifacts=tmp_path_factory.mktemp("artifacts"),
                        rate_limit="100000/minute")
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {write}"
        yield client, read


def test_models_are_created_listed_changed_and_validated(api):
    client, read = api
    created = client.post("/v1/models", json=model_payload(name="alpha", schedule="0 3 1 * *"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["served_version"] is None and body["sampler"]["method"] == "nutpie" and body["horizon"] == 6
    assert client.post("/v1/models", json=model_payload(name="alpha")).status_code == 409
    invalid = {
        "bad cron": model_payload(name="b1", schedule="every day"),
        "unknown indicator": model_payload(name="b2") | {"indicator": "nope"},
        "unknown region": model_payload(name="b3", regions=["R01", "XX"]),
        "bad sampler": model_payload(name="b4", sampler={"method": "gibbs"}),
        "bad name": model_payload(name="no spaces allowed"),
    }
    for case, payload in invalid.items():
        answer = client.post("/v1/models", json=payload)
        assert answer.status_code == 422, (case, answer.text)
    patched = client.patch("/v1/models/alpha", json={"schedule": None, "regions": ["R01", "R02"]})
    assert patched.status_code == 200 and patched.json()["schedule"] is None
    assert patched.json()["regions"] == ["R01", "R02"]
    replaced = client.put("/v1/models/alpha", json=model_payload(name="alpha", spillover=False))
    # `regions: []` is recorded as the regions with data for the indicator (the seeded panel's four)
    assert replaced.status_code == 200 and replaced.json()["spillover"] is False
    assert replaced.json()["regions"] == ["R01", "R02", "R03", "R04"]
    assert client.put("/v1/models/alpha", json=model_payload(name="other")).status_code == 422
    assert client.patch("/v1/models/ghost", json={"horizon": 3}).status_code == 404
    listed = client.get("/v1/models", headers={"Authorization": f"Bearer {read}"}).json()
    assert listed["count"] >= 1 and "alpha" in [m["name"] for m in listed["data"]]
    versions = client.get("/v1/models/alpha/versions").json()
    assert versions == {"model": "alpha", "served_version": None, "data": [], "count": 0, "next_cursor": None}


def test_scopes_guard_writes(api):
    client, read = api
    as_reader = {"Authorization": f"Bearer {read}"}
    assert client.post("/v1/models", json=model_payload(name="gamma"), headers=as_reader).status_code == 403
    assert client.post("/v1/models/alpha/fit", headers=as_reader).status_code == 403
    assert client.get("/v1/models/alpha", headers={"Authorization": ""}).status_code == 401


def test_fit_jobs_are_queued_and_can_be_cancelled(api):
    client, _ = api
    queued = client.post("/v1/models/alpha/fit")
    assert queued.status_code == 202
    job_id = queued.json()["job_id"]
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert ((job["kind"], job["status"], job["attempts"], job["model"], job["version"])
            == ("fit", "queued", 0, "alpha", None))
    cancelled = client.post(f"/v1/jobs/{job_id}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 409
    assert client.get("/v1/jobs/987654").status_code == 404
    listed = client.get("/v1/jobs", params={"model": "alpha", "status": "cancelled"}).json()
    assert job_id in [j["id"] for j in listed["data"]] and all(j["status"] == "cancelled" for j in listed["data"])
    assert client.get("/v1/jobs", params={"status": "lost"}).status_code == 422
    assert client.post("/v1/models/ghost/fit").status_code == 404


def test_questions_before_any_fit_are_clear_4xx(api):
    client, _ = api
    not_fitted = client.get("/v1/models/alpha/forecast", params={"region": "R01", "horizon": 3})
    assert not_fitted.status_code == 409 and "never fitted" in not_fitted.json()["detail"]
    assert client.get("/v1/models/alpha/forecast", params={"region": "R01", "horizon": 0}).status_code == 422
    assert client.get("/v1/models/alpha/forecast",
                      params={"region": "R01", "horizon": 3, "quantiles": "0.5,2"}).status_code == 422
    assert client.post("/v1/models/alpha/probability",
                       json={"region": "R01", "threshold": -5, "horizon": 3}).status_code == 422
    assert client.post("/v1/models/alpha/spillover",
                       json={"source": "R01", "target": "R02", "threshold": 5, "horizon": 3}).status_code == 409
    assert client.post("/v1/models/alpha/backtests", json={"origins": 0, "horizon": 3}).status_code == 422
    assert client.post("/v1/models/alpha/versions/1/forecast").status_code == 404

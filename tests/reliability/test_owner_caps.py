"""Scheduled refits count against their model owner's queue cap, and the models one key owns are capped
(issue 28, item 6), against a real `fragility serve` process and a real scheduler pass on its database:

- a key at its queue cap (2 here) whose scheduled models tick gets no more jobs queued: each tick is a
  `skipped` job saying why (the model's own fit is waiting, or the owner's queue is full);
- the scheduled refit that is queued carries the owner's key and counts against it;
- one model more than FRAGILITY_MAX_MODELS_PER_KEY is a 409 TooManyModels naming the setting; another key
  may still create models.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from service.crud import queue
from service.db.tables import Job, RegisteredModel, utc_now
from service.jobs.scheduler import enqueue_due
from tests.e2e.registry_support import model_payload

pytestmark = pytest.mark.e2e

CAP = 2


@pytest.fixture(scope="module")
def server(live_server, seeded):
    """Return a server with a queue cap of 2 jobs and 3 models per key."""
    return live_server(seeded.url, seeded.artifacts, env={"FRAGILITY_MAX_QUEUED_JOBS_PER_KEY": CAP,
                                                          "FRAGILITY_MAX_MODELS_PER_KEY": 3})


def queued_of(seeded, key_id: int) -> int:
    """Return the jobs queued in the name of key `key_id`."""
    with seeded.database.session() as session:
        return queue.queued_count(session, key_id=key_id)


def test_scheduled_refits_count_against_the_owners_queue_cap(server, seeded):
    with server.client(server.write_key) as client:
        for name in ("sched-a", "sched-b", "sched-c"):
            created = client.post("/v1/models", json=model_payload(name=name, schedule="0 * * * *"))
            assert created.status_code == 201, created.text
        for name in ("sched-a", "sched-b"):
            assert client.post(f"/v1/models/{name}/fit").status_code == 202
        assert client.post("/v1/models/sched-c/fit").json()["error"] == "QueueFull"
    with seeded.database.session() as session:
        owner = session.scalars(select(RegisteredModel.key_id).where(RegisteredModel.name == "sched-c")).one()
    assert owner is not None and queued_of(seeded, owner) == CAP
    later = utc_now() + timedelta(hours=2)
    assert enqueue_due(seeded.database, now=later, max_attempts=3, max_queued_per_key=CAP) == []
    assert queued_of(seeded, owner) == CAP
    with seeded.database.session() as session:
        ticks = session.scalars(select(Job).where(Job.reason == "scheduled")).all()
        reasons = {job.model_id: (job.status, job.result["reason"]) for job in ticks}
    assert len(reasons) == 3 and {status for status, _ in reasons.values()} == {"skipped"}, reasons
    assert sum("FRAGILITY_MAX_QUEUED_JOBS_PER_KEY" in reason for _, reason in reasons.values()) == 1, reasons
    # once the owner's queue has room, the next tick is queued in the owner's name and counts against it
    with server.client(server.admin_key) as client:
        jobs = client.get("/v1/jobs", params={"status": "queued"}).json()["data"]
        assert client.post(f"/v1/jobs/{jobs[0]['id']}/cancel").status_code == 200
    queued = enqueue_due(seeded.database, now=later + timedelta(hours=1), max_attempts=3, max_queued_per_key=CAP)
    assert len(queued) == 1 and queued_of(seeded, owner) == CAP
    with seeded.database.session() as session:
        assert session.get(Job, queued[0]).key_id == owner


def test_models_per_key_are_capped(server):
    with server.client(server.write_key) as client:
        refused = client.post("/v1/models", json=model_payload(name="one-too-many"))
        assert refused.status_code == 409 and refused.json()["error"] == "TooManyModels", refused.text
        assert "FRAGILITY_MAX_MODELS_PER_KEY" in refused.json()["detail"]
        assert client.get("/v1/models/one-too-many").status_code == 404
    with server.client(server.admin_key) as client:
        assert client.post("/v1/models", json=model_payload(name="another-key")).status_code == 201

"""Hostile input, second round (issue 19, items 1, 2 and 4), over HTTP against a real server on SQLite and
PostgreSQL: an oversized neighbour list, a flood of fit requests and too-frequent schedules, a key filling
the queue, and out-of-range values (seeds, counts, periods, thresholds, parents, broken CSV quotes, unknown
fields). Every refusal is a 422 (or 429) naming the field, and nothing is stored."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from service.db.engine import Database
from service.db.tables import Job, RegisteredModel, indicators, observations, regions, utc_now
from service.jobs.scheduler import enqueue_due

MAX_QUEUED = 3
REGIONS = [{"id": "A", "name": "Alpha", "neighbours": ["B"]},
           {"id": "B", "name": "Beta", "parent": "A", "neighbours": ["A", "C"]},
           {"id": "C", "name": "Gamma", "neighbours": ["B"]}]
ROW = {"region": "A", "indicator": "attacks", "period": "2020-01", "value": 3}
SAMPLER = {"method": "advi", "draws": 100, "tune": 0, "chains": 1, "seed": 1}


def model(name: str, **extra: Any) -> dict:
    """Return a POST /v1/models body on the seeded regions and indicator."""
    return {"name": name, "family": "count", "indicator": "attacks", "sampler": SAMPLER, **extra}


@pytest.fixture(scope="module")
def server(live_server, database_url):
    """Return a server (no worker: queued jobs stay queued) holding three regions, two indicators and a row."""
    started = live_server(database_url, env={"FRAGILITY_MAX_QUEUED_JOBS_PER_KEY": MAX_QUEUED})
    with started.client(started.write_key) as client:
        assert client.post("/v1/regions", json={"regions": REGIONS}).status_code == 200
        assert client.post("/v1/indicators", json={"indicators": [
            {"id": "attacks", "kind": "count"}, {"id": "control", "kind": "share"}]}).status_code == 200
        assert client.post("/v1/observations", json={"observations": [ROW]}).status_code == 200
    return started


@pytest.fixture(scope="module")
def database(server):
    """Yield a Database on the server's store, to count what was stored."""
    db = Database(server.env["FRAGILITY_DATABASE_URL"])
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def write(server):
    """Yield an httpx client on the server holding the write key."""
    with server.client(server.write_key) as client:
        yield client


def stored(database: Database) -> dict[str, int]:
    """Return the row counts of the data and registry tables."""
    with database.session() as session:
        counts = {table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                  for table in (regions, indicators, observations)}
        counts["models"] = session.execute(select(func.count()).select_from(RegisteredModel)).scalar_one()
        counts["jobs"] = session.execute(select(func.count()).select_from(Job)).scalar_one()
    return counts


def refused(answer, status: int, field: str, row: int | None = None, words: str = "") -> dict:
    """Return the error body after checking the status and that one listed error names `field` (and `row`)."""
    assert answer.status_code == status, (answer.status_code, answer.text[:800])
    body = answer.json()
    assert body["error"] and body["detail"] and body["hint"], body
    named = [e for e in body.get("errors") or [] if e["field"] == field and (row is None or e["row"] == row)]
    assert named, (field, row, body)
    assert words.lower() in " ".join(e["reason"] for e in named).lower(), body
    return body


def post_raw(client, path: str, text: str):
    """Return the answer to a JSON body sent as written (for Infinity and 1e309, which json.dumps cannot spell)."""
    return client.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


# item 1: neighbours ------------------------------------------------------------------------------------------


def test_a_region_with_40000_neighbours_is_refused_naming_row_and_field(write, database):
    before = stored(database)
    big = {"id": "BIG", "name": "Big", "neighbours": [f"N{i}" for i in range(40_000)]}
    answer = write.post("/v1/regions", json={"regions": [REGIONS[0], big]})
    body = refused(answer, 422, "neighbours", row=1, words="at most 1000")
    assert "40000 neighbours" in body["errors"][0]["reason"]
    assert stored(database) == before


# item 2: the queue -------------------------------------------------------------------------------------------


def test_fifty_fit_requests_leave_one_queued_job(write, database):
    assert write.post("/v1/models", json=model("flood")).status_code == 201
    answers = [write.post("/v1/models/flood/fit") for _ in range(50)]
    assert answers[0].status_code == 202 and answers[0].json()["already_queued"] is False, answers[0].text
    first = answers[0].json()["job_id"]
    assert {(a.status_code, a.json()["job_id"], a.json()["already_queued"]) for a in answers[1:]} == {
        (200, first, True)}
    assert "already has fit job" in answers[1].json()["detail"]
    queued = write.get("/v1/jobs", params={"model": "flood", "status": "queued"}).json()
    assert [job["id"] for job in queued["data"]] == [first]


def test_fifty_concurrent_fit_requests_leave_one_queued_job(server, database):
    with server.client(server.admin_key) as admin:
        assert admin.post("/v1/models", json=model("rush")).status_code == 201

        def ask(_: int):
            with server.client(server.admin_key) as client:
                return client.post("/v1/models/rush/fit")

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(ask, range(50)))
        assert sorted(a.status_code for a in answers) == [200] * 49 + [202], [a.text for a in answers][:3]
        assert len({a.json()["job_id"] for a in answers}) == 1
        queued = admin.get("/v1/jobs", params={"model": "rush", "status": "queued"}).json()
    assert queued["count"] == 1
    with database.session() as session:  # the admin's one queued job must not count against the write key below
        session.execute(update(Job).where(Job.id == queued["data"][0]["id"]).values(status="cancelled"))
        session.commit()


def test_a_key_with_full_queue_gets_429_and_another_key_still_queues(server, write, database):
    names = [f"capped{i}" for i in range(MAX_QUEUED + 1)]
    for name in names:
        assert write.post("/v1/models", json=model(name)).status_code == 201
    with database.session() as session:
        already = session.execute(select(func.count()).select_from(Job).where(Job.status == "queued")).scalar_one()
    statuses = [write.post(f"/v1/models/{name}/fit").status_code for name in names[: MAX_QUEUED - already]]
    assert statuses == [202] * (MAX_QUEUED - already)
    before = stored(database)
    full = write.post(f"/v1/models/{names[-1]}/fit")
    assert full.status_code == 429, full.text
    assert full.json()["error"] == "QueueFull" and f"at most {MAX_QUEUED}" in full.json()["detail"]
    assert "cancel" in full.json()["hint"] and int(full.headers["Retry-After"]) >= 1
    backtest = write.post(f"/v1/models/{names[-1]}/backtests", json={"origins": 1, "horizon": 1})
    assert backtest.status_code == 429 and backtest.json()["error"] == "QueueFull"
    assert stored(database) == before
    with server.client(server.admin_key) as admin:  # the cap is per key
        assert admin.post(f"/v1/models/{names[-1]}/fit").status_code == 202
    waiting = write.get("/v1/jobs", params={"status": "queued"}).json()["data"]
    assert write.post(f"/v1/jobs/{waiting[-1]['id']}/cancel").status_code == 200  # the oldest: one of this key's
    again = write.post(f"/v1/models/{names[-1]}/backtests", json={"origins": 1, "horizon": 1})
    assert again.status_code == 202, again.text


@pytest.mark.parametrize("schedule", ["* * * * * *", "* * * * *", "*/5 * * * *", "0,30 3 * * *", "0 3 * * * 1,2"])
def test_a_schedule_finer_than_hourly_is_refused(write, database, schedule):
    before = stored(database)
    refused(write.post("/v1/models", json=model("too-often", schedule=schedule)), 422, "schedule", words="at most once")
    refused(write.patch("/v1/models/flood", json={"schedule": schedule}), 422, "schedule", words="3600 s")
    assert stored(database) == before
    assert write.get("/v1/models/flood").json()["schedule"] is None


def test_a_scheduler_tick_while_a_fit_waits_is_skipped_and_listed(server, write, database):
    answer = write.post("/v1/models", json=model("hourly", schedule="0 * * * *"))
    assert answer.status_code == 201, answer.text
    with server.client(server.admin_key) as admin:  # the write key's queue may be full (test above)
        job_id = admin.post("/v1/models/hourly/fit").json()["job_id"]
    # the scheduler loop is this function on a timer; run two passes two and three hours on
    assert enqueue_due(database, now=utc_now() + timedelta(hours=2), max_attempts=3) == []
    assert enqueue_due(database, now=utc_now() + timedelta(hours=3), max_attempts=3) == []
    jobs = write.get("/v1/models/hourly/jobs").json()["data"]
    assert [job["status"] for job in jobs] == ["skipped", "skipped", "queued"]
    assert all(f"fit job {job_id} of this model was queued" in job["result"]["reason"] for job in jobs[:2])
    assert [j["id"] for j in write.get("/v1/jobs", params={"model": "hourly", "status": "skipped"}).json()["data"]] \
        == [job["id"] for job in jobs[:2]]


# item 4: out-of-range values ---------------------------------------------------------------------------------


BAD_OBSERVATIONS = {
    "count 2**53+1": ({**ROW, "value": 2**53 + 1}, "value", "2**53"),
    "count 2**53+1 as text": ({**ROW, "value": str(2**53 + 1)}, "value", "2**53"),
    "count 1e30": ({**ROW, "value": 1e30}, "value", "2**53"),
    "count '1e30'": ({**ROW, "value": "1e30"}, "value", "2**53"),
    "period 0001-01": ({**ROW, "period": "0001-01"}, "period", "1900-01"),
    "period 1899-12": ({**ROW, "period": "1899-12"}, "period", "1900-01"),
    "unknown field": ({**ROW, "note": "from the field office"}, "note", "extra"),
}


@pytest.mark.parametrize("case", list(BAD_OBSERVATIONS))
def test_out_of_range_observation_is_refused_naming_row_and_field(write, database, case):
    row, field, words = BAD_OBSERVATIONS[case]
    before = stored(database)
    good = {**ROW, "period": "2020-02"}
    refused(write.post("/v1/observations", json={"observations": [good, row]}), 422, field, row=1, words=words)
    assert stored(database) == before


def test_the_documented_bounds_themselves_are_accepted(write, database):
    rows = [{**ROW, "period": "1900-01", "value": 2**53}, {**ROW, "period": "1900-02", "value": str(2**53)}]
    assert write.post("/v1/observations", json={"observations": rows}).json()["inserted"] == 2
    body = model("seed-max", sampler={**SAMPLER, "seed": 2**32 - 1})
    assert write.post("/v1/models", json=body).status_code == 201


def test_unknown_top_level_field_is_refused(write, database):
    before = stored(database)
    refused(write.post("/v1/observations", json={"observations": [ROW], "source": "x"}), 422, "source")
    refused(write.post("/v1/indicators", json={"indicators": [{"id": "named", "kind": "count", "name": "Named"}]}),
            422, "name", row=0)
    assert stored(database) == before


@pytest.mark.parametrize("seed", [2**64, 2**32, -1])
def test_a_seed_outside_32_bits_is_refused(write, database, seed):
    before = stored(database)
    refused(write.post("/v1/models", json=model("seedy", sampler={**SAMPLER, "seed": seed})), 422, "sampler.seed")
    refused(write.patch("/v1/models/flood", json={"sampler": {**SAMPLER, "seed": seed}}), 422, "sampler.seed")
    assert stored(database) == before


@pytest.mark.parametrize("threshold", ["Infinity", "1e309", "NaN", "-Infinity"])
@pytest.mark.parametrize("question", ["probability", "spillover"])
def test_a_threshold_that_is_not_finite_is_refused(write, database, threshold, question):
    body = {"region": "A", "horizon": 1} if question == "probability" else {"source": "A", "target": "B",
                                                                             "horizon": 1}
    text = json.dumps(body)[:-1] + f', "threshold": {threshold}}}'
    refused(post_raw(write, f"/v1/models/flood/{question}", text), 422, "threshold")


BAD_REGIONS = {
    "own parent": ([{"id": "D", "name": "Delta", "parent": "D", "neighbours": []}], 0, "parent", "itself"),
    "unknown parent": ([{"id": "D", "name": "Delta", "parent": "NOWHERE", "neighbours": []}], 0, "parent",
                       "unknown parent"),
    "unknown field": ([{"id": "D", "name": "Delta", "population": 5, "neighbours": []}], 0, "population", "extra"),
    "unknown neighbour field": ([{"id": "D", "name": "D", "neighbours": [{"id": "E", "w": 2}]},
                                 {"id": "E", "name": "E", "neighbours": ["D"]}], 0, "neighbours", "extra"),
}


@pytest.mark.parametrize("case", list(BAD_REGIONS))
def test_bad_region_is_refused_naming_row_and_field(write, database, case):
    batch, row, field, words = BAD_REGIONS[case]
    before = stored(database)
    refused(write.post("/v1/regions", json={"regions": batch}), 422, field, row=row, words=words)
    assert stored(database) == before


def test_a_parent_in_the_batch_or_stored_is_accepted(write):
    batch = [{"id": "P1", "name": "Group", "neighbours": []},
             {"id": "P2", "name": "Member", "parent": "P1", "neighbours": []},
             {"id": "P3", "name": "Stored parent", "parent": "A", "neighbours": []}]
    assert write.post("/v1/regions", json={"regions": batch}).json()["inserted"] == 3


@pytest.mark.parametrize("text", ['A,"attacks,2020-03,1\nA,attacks,2020-04,1\n', 'A,"attacks"x,2020-03,1\n'])
def test_csv_with_a_broken_quote_is_refused(write, database, text):
    before = stored(database)
    csv = "region,indicator,period,value\nA,attacks,2020-05,1\n" + text
    answer = write.post("/v1/observations/csv", content=csv.encode(), headers={"Content-Type": "text/csv"})
    refused(answer, 422, "row", row=1, words="line 3")
    assert "quote" in answer.text
    assert stored(database) == before

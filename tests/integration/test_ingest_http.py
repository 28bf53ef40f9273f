"""Ingest over HTTP against a real `fragility serve` process, on SQLite and PostgreSQL.

Atomic batches (each bad-row kind refused with nothing stored), upsert counts, revision history, CSV,
batch and body limits (422 / 413).
"""

from __future__ import annotations

import math

import httpx
import pytest

from service.crud.observations import count_observations, count_revisions, read_revisions
from service.db.engine import Database

pytestmark = pytest.mark.e2e

REGIONS = [
    {"id": "AAA", "name": "Alpha", "neighbours": ["BBB"]},
    {"id": "BBB", "name": "Beta", "parent": "AAA", "neighbours": ["AAA", {"id": "CCC", "weight": 2.0}]},
    {"id": "CCC", "name": "Gamma", "neighbours": [{"id": "BBB", "weight": 2.0}]},
]
INDICATORS = [
    {"id": "attacks", "kind": "count", "unit": "events", "description": "armed attacks"},
    {"id": "control", "kind": "share", "unit": "fraction"},
    {"id": "seized", "kind": "amount", "unit": "kg"},
]
MONTHS = [f"{year}-{month:02d}" for year in (2022, 2023) for month in range(1, 13)]
MAX_BODY = 200_000
MAX_ROWS = 1_000


def value_for(indicator: str, i: int) -> float:
    """Return a valid value of `indicator` for the i-th cell."""
    return {"attacks": i % 17, "control": (i % 10) / 10, "seized": 0.5 * (i % 7)}[indicator]


TWO_YEARS = [{"region": r["id"], "indicator": ind["id"], "period": p, "value": value_for(ind["id"], i)}
             for i, (r, ind, p) in enumerate((r, ind, p) for r in REGIONS for ind in INDICATORS for p in MONTHS)]


@pytest.fixture(scope="module")
def server(live_server, database_url):
    """Return a server with small limits whose database holds the regions and indicators."""
    started = live_server(database_url, env={"FRAGILITY_MAX_BODY_BYTES": MAX_BODY,
                                             "FRAGILITY_MAX_BATCH_ROWS": MAX_ROWS})
    with started.client(started.write_key) as client:
        assert client.post("/v1/regions", json={"regions": REGIONS}).json() == {
            "inserted": 3, "updated": 0, "unchanged": 0}
        assert client.post("/v1/indicators", json={"indicators": INDICATORS}).json() == {
            "inserted": 3, "updated": 0, "unchanged": 0}
    return started


@pytest.fixture(scope="module")
def write(server):
    """Return an httpx client on the server holding a write key."""
    with server.client(server.write_key) as client:
        yield client


@pytest.fixture(scope="module")
def db(database_url):
    """Return a Database on the server's database, for counting rows behind the API."""
    database = Database(database_url)
    yield database
    database.dispose()


def stored_count(db: Database) -> int:
    with db.session() as session:
        return count_observations(session=session)


def test_regions_and_indicators_are_listed_as_posted(write):
    regions = write.get("/v1/regions").json()
    assert regions["count"] == 3
    by_id = {r["id"]: r for r in regions["data"]}
    assert by_id["AAA"]["neighbours"] == ["BBB"]
    assert by_id["BBB"]["parent"] == "AAA"
    assert {"id": "CCC", "weight": 2.0} in by_id["BBB"]["neighbours"]
    assert write.post("/v1/regions", json={"regions": REGIONS}).json() == {"inserted": 0, "updated": 0,
                                                                           "unchanged": 3}
    kinds = {i["id"]: i["kind"] for i in write.get("/v1/indicators").json()["data"]}
    assert kinds == {"attacks": "count", "control": "share", "seized": "amount"}


def test_region_batch_with_asymmetric_or_unknown_neighbour_is_refused(write):
    bad = [{"id": "DDD", "name": "Delta", "neighbours": ["AAA"]},          # AAA (stored) does not list DDD
           {"id": "EEE", "name": "Eps", "neighbours": ["ZZZ"]}]            # unknown neighbour
    answer = write.post("/v1/regions", json={"regions": bad})
    assert answer.status_code == 422, answer.text
    rows = {(e["row"], e["field"]) for e in answer.json()["errors"]}
    assert (0, "neighbours") in rows and (1, "neighbours") in rows
    assert write.get("/v1/regions").json()["count"] == 3


def test_two_years_upsert_counts_revisions_and_series(write, db):
    assert write.post("/v1/observations", json={"observations": TWO_YEARS}).json() | {"batch_id": None} == {
        "inserted": len(TWO_YEARS), "updated": 0, "unchanged": 0, "batch_id": None}
    again = write.post("/v1/observations", json={"observations": TWO_YEARS}).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(TWO_YEARS))
    changed = [dict(row) for row in TWO_YEARS]
    for row in changed[:5]:
        row["value"] = row["value"] + 100
    answer = write.post("/v1/observations", json={"observations": changed}).json()
    assert (answer["inserted"], answer["updated"], answer["unchanged"]) == (0, 5, len(TWO_YEARS) - 5)
    assert stored_count(db) == len(TWO_YEARS)
    first = TWO_YEARS[0]
    with db.session() as session:
        history = read_revisions(session=session, region=first["region"], indicator=first["indicator"],
                                 period=first["period"])
        assert count_revisions(session=session) == 5
    assert [(h["old_value"], h["new_value"], h["batch_id"]) for h in history] == [
        (first["value"], first["value"] + 100, answer["batch_id"])]
    series = write.get("/v1/series", params={"region": "AAA", "indicator": "attacks",
                                             "start": "2022-01", "end": "2022-03"}).json()
    assert series["region"] == "AAA" and series["indicator"] == "attacks"
    assert [p["period"] for p in series["points"]] == ["2022-01", "2022-02", "2022-03"]
    assert series["points"][0]["value"] == first["value"] + 100

    revised = write.get("/v1/series/revisions", params={"region": "AAA", "indicator": "attacks"})
    assert revised.status_code == 200, revised.text
    body = revised.json()
    assert (body["region"], body["indicator"], body["count"]) == ("AAA", "attacks", 5)
    assert [(r["period"], r["old_value"], r["new_value"], r["batch_id"]) for r in body["revisions"]] == [
        (row["period"], row["value"], row["value"] + 100, answer["batch_id"]) for row in TWO_YEARS[:5]]
    one = write.get("/v1/series/revisions", params={"region": "AAA", "indicator": "attacks", "period": "2022-02"})
    assert [r["period"] for r in one.json()["revisions"]] == ["2022-02"]
    untouched = write.get("/v1/series/revisions", params={"region": "CCC", "indicator": "seized"}).json()
    assert untouched["count"] == 0 and untouched["revisions"] == []
    assert write.get("/v1/series/revisions", params={"region": "ZZZ", "indicator": "attacks"}).status_code == 404


GOOD = {"region": "CCC", "indicator": "attacks", "period": "2021-01", "value": 3}
BAD_ROWS = {
    "negative count": ({**GOOD, "value": -1}, "value"),
    "non-integer count": ({**GOOD, "value": 2.5}, "value"),
    "share above one": ({**GOOD, "indicator": "control", "value": 1.5}, "value"),
    "negative amount": ({**GOOD, "indicator": "seized", "value": -0.1}, "value"),
    "NaN": ({**GOOD, "value": "NaN"}, "value"),
    "infinity": ({**GOOD, "value": "Infinity"}, "value"),
    "non-numeric": ({**GOOD, "value": "many"}, "value"),
    "unknown region": ({**GOOD, "region": "XXX"}, "region"),
    "unknown indicator": ({**GOOD, "indicator": "nope"}, "indicator"),
    "malformed period": ({**GOOD, "period": "2021-13"}, "period"),
    "future period": ({**GOOD, "period": "2999-01"}, "period"),
    "missing field": ({k: v for k, v in GOOD.items() if k != "period"}, "period"),
    "duplicate key": ({**GOOD, "period": "2021-02"}, "row"),
}


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_each_bad_row_kind_rejects_the_whole_batch(write, db, kind):
    bad_row, field = BAD_ROWS[kind]
    fresh = [{**GOOD, "period": "2021-02"}, {**GOOD, "region": "AAA", "period": "2021-02"}]
    before = stored_count(db)
    answer = write.post("/v1/observations", json={"observations": [*fresh, bad_row]})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert {"row": 2, "field": field} in [{"row": e["row"], "field": e["field"]} for e in body["errors"]], body
    assert body["request_id"] and body["hint"]
    assert stored_count(db) == before


def test_all_bad_rows_are_listed_at_once(write, db):
    rows = [bad for bad, _ in BAD_ROWS.values() if bad.get("value") not in ("many",)]
    before = stored_count(db)
    answer = write.post("/v1/observations", json={"observations": rows})
    assert answer.status_code == 422
    assert len({e["row"] for e in answer.json()["errors"]}) == len(rows) - 1  # the first copy of GOOD's key is fine
    assert stored_count(db) == before


def test_csv_ingest_and_csv_errors(write, db):
    csv = "region,indicator,period,value\nAAA,seized,2021-05,1.5\nBBB,seized,2021-05,0\n"
    answer = write.post("/v1/observations/csv", content=csv, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["inserted"], answer.json()["unchanged"]) == (2, 0)
    before = stored_count(db)
    # a blank line (3) and a quoted field over two lines (5-6): rows 1 and 2 start on lines 4 and 5
    bad = 'region,indicator,period,value\nAAA,seized,2021-06,1\n\nBBB,seized,2021-06,-3\n"C\nCC",seized,x,1\n'
    answer = write.post("/v1/observations/csv", content=bad, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 422
    assert sorted((e["line"], e["row"], e["field"]) for e in answer.json()["errors"]) == [
        (4, 1, "value"), (5, 2, "period"), (5, 2, "region")]
    short = write.post("/v1/observations/csv", content="region,indicator,period,value\nAAA,seized\n",
                       headers={"Content-Type": "text/csv"})
    assert [(e["line"], e["row"], e["field"]) for e in short.json()["errors"]] == [(2, 0, "row")]
    as_json = write.post("/v1/observations", json={"observations": [{**GOOD, "value": -1}]})
    assert [e.get("line") for e in as_json.json()["errors"]] == [None]  # JSON rows have no file line
    header = write.post("/v1/observations/csv", content="a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert header.status_code == 422 and "header" in header.json()["detail"]
    assert stored_count(db) == before


def test_batch_over_max_rows_is_422(write, db):
    rows = [{**GOOD, "period": f"{1900 + i // 12}-{i % 12 + 1:02d}"} for i in range(MAX_ROWS + 1)]
    before = stored_count(db)
    answer = write.post("/v1/observations", json={"observations": rows})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "BatchTooLarge" and str(MAX_ROWS) in answer.json()["detail"]
    assert stored_count(db) == before


def test_body_over_max_bytes_is_413_declared_or_chunked(write, db):
    padding = [{**GOOD, "period": f"{1900 + i // 12}-{i % 12 + 1:02d}", "note": "x" * 200}
               for i in range(math.ceil(MAX_BODY / 200))]
    answer = write.post("/v1/observations", json={"observations": padding})
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLarge" and answer.json()["request_id"]

    def chunks():
        yield b'{"observations": ['
        for _ in range(MAX_BODY // 1000 + 2):
            yield b" " * 1000
        yield b"]}"

    try:
        chunked = write.post("/v1/observations", content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
    except httpx.RemoteProtocolError:  # the server may close before the client finished sending
        pass
    assert stored_count(db) == 0 or stored_count(db) >= len(TWO_YEARS)


@pytest.mark.slow
def test_demo_server_with_embedded_worker_serves_the_demo_regions(live_server, sqlite_url):
    demo = live_server(sqlite_url, extra_args=["--demo"], worker=True)
    with demo.client(demo.read_key) as reader:
        regions = reader.get("/v1/regions").json()
    assert regions["count"] == 25 and "IRQ" in {r["id"] for r in regions["data"]}
    assert "--no-worker" not in demo.process.args

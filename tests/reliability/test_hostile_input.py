"""Hostile strings in every string field (JSON bodies, path and query parameters, CSV cells) and
hostile CSV files, on SQLite and PostgreSQL (in-process app): never a 5xx; identifiers are refused
with a clear 4xx and nothing is stored; free text (names, units, descriptions) is either refused or
stored and read back exactly; the tables survive (no injected SQL ran)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from service.db.tables import indicators, observations, regions
from tests.reliability.conftest import Seeded, make_seeded

HOSTILE = {
    "sql quote": "R01' OR '1'='1",
    "sql drop": "x'); DROP TABLE observations; --",
    "sql comment": "R01;--",
    "sql union": "R01' UNION SELECT key_hash FROM api_keys --",
    "traversal": "../../../../etc/passwd",
    "encoded traversal": "..%2F..%2Fetc%2Fpasswd",
    "percent nul": "R01%00",
    "nul byte": "R01\x00",
    "control chars": "R\x01\x02\x1b[31m",
    "newline": "R01\r\nX-Injected: 1",
    "very long": "A" * 100_000,
    "unicode": "رأس العين 𝕽 \u202e\ufeff",
    "lone surrogate escape": "\\ud800",
    "empty": "",
    "spaces": "   ",
    "html": "<script>alert(1)</script>",
    "format": "%s%n{0}${jndi:ldap://x}",
}
GOOD_ROW = {"region": "R01", "indicator": "attacks", "period": "2009-01", "value": 3}


@pytest.fixture(scope="module")
def hostile(database_url, tmp_path_factory):
    """Return (write client, seeded) on a seeded database of each backend."""
    seeded = make_seeded(tmp_path_factory.mktemp("hostile"), database_url)
    with seeded.client("write", max_body_bytes=4_000_000) as client:
        yield client, seeded
    seeded.database.dispose()


def table_counts(seeded: Seeded) -> tuple[int, int, int]:
    """Return (regions, indicators, observations) row counts."""
    with seeded.database.session() as session:
        return tuple(session.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (regions, indicators, observations))


def assert_clear_refusal(answer, what: str) -> None:
    """Fail unless `answer` is a 4xx in the service's error shape."""
    assert 400 <= answer.status_code < 500, (what, answer.status_code, answer.text[:500])
    body = answer.json()
    assert body["error"] and body["detail"] and body["hint"], body


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("field", ["region", "indicator", "period", "value"])
def test_hostile_observation_field_is_refused_and_nothing_stored(hostile, field, kind):
    client, seeded = hostile
    before = table_counts(seeded)
    row = {**GOOD_ROW, field: HOSTILE[kind]}
    answer = client.post("/v1/observations", json={"observations": [GOOD_ROW | {"period": "2009-02"}, row]})
    assert_clear_refusal(answer, f"{field}={kind}")
    assert table_counts(seeded) == before


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_csv_cell_is_refused_and_nothing_stored(hostile, kind):
    client, seeded = hostile
    before = table_counts(seeded)
    cell = HOSTILE[kind].replace(",", ";").replace("\n", " ").replace("\r", " ").replace('"', "'")
    csv = f"region,indicator,period,value\nR01,attacks,2009-03,1\n{cell},attacks,2009-03,1\n"
    answer = client.post("/v1/observations/csv", content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert_clear_refusal(answer, kind)
    assert table_counts(seeded) == before


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("field", ["id", "neighbour", "parent"])
def test_hostile_region_identifier_is_refused(hostile, field, kind):
    client, seeded = hostile
    before = table_counts(seeded)
    region = {"id": "NEW", "name": "New", "neighbours": []}
    if field == "id":
        region["id"] = HOSTILE[kind]
    elif field == "neighbour":
        region["neighbours"] = [HOSTILE[kind]]
    else:
        region["parent"] = HOSTILE[kind]
    answer = client.post("/v1/regions", json={"regions": [region]})
    if field == "parent" and answer.status_code == 200:  # a parent is a label; it must round-trip exactly
        stored = {r["id"]: r for r in client.get("/v1/regions").json()["data"]}["NEW"]
        assert stored["parent"] == HOSTILE[kind]
        return
    assert_clear_refusal(answer, f"{field}={kind}")
    assert table_counts(seeded) == before


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_free_text_is_refused_or_stored_exactly(hostile, kind):
    client, seeded = hostile
    text = HOSTILE[kind]
    answer = client.post("/v1/regions", json={"regions": [{"id": "TXT", "name": text, "neighbours": []}]})
    assert answer.status_code < 500, answer.text[:500]
    if answer.status_code == 200:
        stored = {r["id"]: r for r in client.get("/v1/regions").json()["data"]}["TXT"]
        assert stored["name"] == text
    else:
        assert_clear_refusal(answer, kind)
    answer = client.post("/v1/indicators", json={"indicators": [
        {"id": "txt", "kind": "amount", "unit": text[:64], "description": text}]})
    assert answer.status_code < 500, answer.text[:500]
    if answer.status_code == 200:
        stored = {i["id"]: i for i in client.get("/v1/indicators").json()["data"]}["txt"]
        assert (stored["unit"], stored["description"]) == (text[:64], text)
    else:
        assert_clear_refusal(answer, kind)
    answer = client.post("/v1/indicators", json={"indicators": [{"id": text, "kind": "count"}]})
    assert_clear_refusal(answer, f"indicator id {kind}")


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_query_and_path_parameters_are_4xx(hostile, kind):
    client, seeded = hostile
    before = table_counts(seeded)
    text = HOSTILE[kind][:4000]  # URLs: a long one is cut where clients and servers cap request lines
    for params in ({"region": text, "indicator": "attacks"}, {"region": "R01", "indicator": text},
                   {"region": "R01", "indicator": "attacks", "start": text},
                   {"region": "R01", "indicator": "attacks", "end": text}):
        answer = client.get("/v1/series", params=params)
        if answer.status_code == 200:  # only when the hostile text is not used as an id (e.g. empty bound)
            assert answer.json()["region"] == "R01"
            continue
        assert_clear_refusal(answer, f"series {params}")
    name = quote(text, safe="") or "x"
    for method, path, kwargs in (
            ("GET", f"/v1/models/{name}", {}),
            ("GET", f"/v1/models/{name}/versions", {}),
            ("GET", f"/v1/models/{name}/forecast", {"params": {"region": text, "horizon": 3}}),
            ("POST", f"/v1/models/{name}/fit", {}),
            ("POST", f"/v1/models/{name}/spillover",
             {"json": {"source": text, "target": text, "threshold": 1, "horizon": 1}}),
            ("GET", f"/v1/jobs/{name}", {})):
        answer = client.request(method, path, **kwargs)
        assert_clear_refusal(answer, f"{method} {path[:80]}")
    answer = client.post("/v1/models", json={"name": HOSTILE[kind], "indicator": "attacks"})
    assert_clear_refusal(answer, "model name")
    answer = client.post("/v1/models", json={"name": "ok-name", "indicator": HOSTILE[kind]})
    assert_clear_refusal(answer, "model indicator")
    assert table_counts(seeded) == before


CSV_HEADER = b"region,indicator,period,value\n"
HOSTILE_CSV = {
    "wrong header": (b"region,indicator,month,value\nR01,attacks,2009-04,1\n", "header"),
    "no header": (b"R01,attacks,2009-04,1\n", "header"),
    "latin-1 bytes": (CSV_HEADER + "R01,attacks,2009-04,1\nRÉG,attacks,2009-04,1\n".encode("latin-1"), "UTF-8"),
    "utf-16": ("region,indicator,period,value\nR01,attacks,2009-04,1\n".encode("utf-16"), "UTF"),
    "a million columns": (b",".join([b"c"] * 1_000_000) + b"\nR01,attacks,2009-04,1\n", "columns"),
    "a million columns in a row": (CSV_HEADER + b",".join([b"1"] * 1_000_000) + b"\n", "field"),
    "embedded NUL": (CSV_HEADER + b"R01,attacks,2009-04,1\nR02,att\x00acks,2009-04,1\n", "NUL"),
    "NUL only": (b"\x00" * 1000, "NUL"),
    "empty": (b"", "empty"),
    "unterminated quote": (CSV_HEADER + b'R01,"attacks,2009-04,1\n', ""),
}


@pytest.mark.parametrize("kind", list(HOSTILE_CSV))
def test_hostile_csv_file_is_a_quick_clear_4xx(hostile, kind):
    client, seeded = hostile
    data, named = HOSTILE_CSV[kind]
    before = table_counts(seeded)
    started = time.perf_counter()
    answer = client.post("/v1/observations/csv", content=data, headers={"Content-Type": "text/csv"})
    seconds = time.perf_counter() - started
    assert_clear_refusal(answer, kind)
    body = answer.json()
    said = body["detail"] + " " + " ".join(str(e.get("reason", "")) for e in body.get("errors") or [])
    assert named.lower() in said.lower(), said[:500]
    assert seconds < 5, f"{kind} took {seconds:.1f} s"
    assert table_counts(seeded) == before

"""Lists are paginated, region writes read only what they touch, revisions are bounded per cell (issue 28,
items 3 and 4), against a real `fragility serve` process on SQLite and PostgreSQL:

- regions, revisions, jobs and versions come in pages (`limit`, `cursor` = the previous `next_cursor`): paging
  through gives every item exactly once, in order, and the last page says `next_cursor: null`; a limit over
  the cap or a cursor the listing never gave is a 422 naming the field;
- a cell revised 30 times keeps its newest FRAGILITY_MAX_REVISIONS_PER_CELL (10 here) revisions;
- a region batch is checked against the stored regions it touches: a one-region upsert beside 2,000 stored
  regions is stored, an asymmetric edge to a stored region is still refused naming the row, and a batch
  reading none of the stored graph leaves it as it was.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

KEEP = 10
RING = 2000


@pytest.fixture(scope="module")
def server(live_server, database_url):
    """Return a server (revisions kept per cell: 10) with a ring of 2,000 regions and the indicator `attacks`."""
    started = live_server(database_url, env={"FRAGILITY_MAX_REVISIONS_PER_CELL": KEEP})
    ring = [{"id": f"R{i:04d}", "name": f"Ring {i}",
             "neighbours": [f"R{(i - 1) % RING:04d}", f"R{(i + 1) % RING:04d}"]} for i in range(RING)]
    with started.client(started.write_key) as client:
        assert client.post("/v1/regions", json={"regions": ring}).status_code == 200
        assert client.post("/v1/indicators", json={"indicators": [{"id": "attacks", "kind": "count"}]}).is_success
    return started


def every_page(client, path: str, items_key: str, limit: int, **params) -> tuple[list, int]:
    """Return (every item of the listing read `limit` at a time, the number of pages)."""
    items, cursor, pages = [], None, 0
    while True:
        answer = client.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body[items_key]) <= limit and body["count"] == len(body[items_key])
        items += body[items_key]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_regions_come_in_pages_each_once_in_order(server):
    with server.client(server.read_key) as client:
        regions, pages = every_page(client, "/v1/regions", "data", 300)
        assert [r["id"] for r in regions] == sorted(f"R{i:04d}" for i in range(RING)) and pages == 7
        first = client.get("/v1/regions").json()
        assert first["count"] == 1000 and first["next_cursor"] is not None
        over = client.get("/v1/regions", params={"limit": 100_000})
        assert over.status_code == 422 and over.json()["errors"][0]["field"] == "query.limit", over.text
        forged = client.get("/v1/regions", params={"cursor": "not-a-cursor"})
        assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "query.cursor", forged.text


def test_revisions_are_paginated_and_bounded_per_cell(server):
    with server.client(server.write_key) as client:
        for value in range(31):  # 30 revisions of one cell, 1 of another
            rows = [{"region": "R0001", "indicator": "attacks", "period": "2020-01", "value": value}]
            if value < 2:
                rows.append({"region": "R0001", "indicator": "attacks", "period": "2020-02", "value": value})
            assert client.post("/v1/observations", json={"observations": rows}).status_code == 200
        revisions, pages = every_page(client, "/v1/series/revisions", "revisions", 4, region="R0001",
                                      indicator="attacks")
    assert [r["period"] for r in revisions] == ["2020-01"] * KEEP + ["2020-02"] and pages == 3
    assert [r["new_value"] for r in revisions[:KEEP]] == [float(v) for v in range(31 - KEEP, 31)]


def test_jobs_and_versions_come_in_pages(server):
    with server.client(server.write_key) as client:
        rows = [{"region": f"R{i:04d}", "indicator": "attacks", "period": "2021-01", "value": 1} for i in range(3)]
        assert client.post("/v1/observations", json={"observations": rows}).status_code == 200
        for name in ("page-a", "page-b", "page-c"):
            body = {"name": name, "indicator": "attacks", "regions": ["R0000", "R0001", "R0002"]}
            assert client.post("/v1/models", json=body).status_code == 201
            assert client.post(f"/v1/models/{name}/fit").status_code == 202
        jobs, pages = every_page(client, "/v1/jobs", "data", 2)
        assert [job["id"] for job in jobs] == sorted((job["id"] for job in jobs), reverse=True)
        assert len(jobs) == len({job["id"] for job in jobs}) >= 3 and pages >= 2
        versions = client.get("/v1/models/page-a/versions", params={"limit": 5}).json()
        assert versions["data"] == [] and versions["next_cursor"] is None
        assert client.get("/v1/models/page-a/versions", params={"limit": 501}).status_code == 422


def test_a_region_write_reads_only_what_it_touches_and_still_checks_edges(server):
    with server.client(server.write_key) as client:
        one = {"id": "LONE", "name": "Lone", "neighbours": []}
        assert client.post("/v1/regions", json={"regions": [one]}).json()["inserted"] == 1
        # an edge to a stored region that does not list it back is refused, naming the row
        asymmetric = {"id": "NEW1", "name": "New", "neighbours": ["R0005"]}
        refused = client.post("/v1/regions", json={"regions": [asymmetric]})
        assert refused.status_code == 422 and refused.json()["errors"][0]["row"] == 0, refused.text
        # both ends together: stored; the stored region's other edges are kept
        changed = {"id": "R0005", "name": "Ring 5", "neighbours": ["R0004", "R0006", "NEW1"]}
        stored = client.post("/v1/regions", json={"regions": [asymmetric, changed]})
        assert stored.status_code == 200 and stored.json()["inserted"] == 1 and stored.json()["updated"] == 1
        # dropping an edge from one end only is refused (the other end is a touched stored region)
        dropped = {"id": "R0005", "name": "Ring 5", "neighbours": ["R0004", "R0006"]}
        assert client.post("/v1/regions", json={"regions": [dropped]}).status_code == 422
        regions, _ = every_page(client, "/v1/regions", "data", 5000)
    by_id = {r["id"]: r for r in regions}
    assert len(regions) == RING + 2 and by_id["R0005"]["neighbours"] == ["R0004", "R0006", "NEW1"]

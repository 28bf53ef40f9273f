"""What a hostile or careless client still broke (issue 19, items 3, 5, 6, 7), over HTTP against real
`fragility serve` processes on SQLite and PostgreSQL:

- wrong-typed, NaN, infinite and boolean scenario values are 422 naming the field (not a 500);
- a lone surrogate in any text field is a 422 naming the field, and nothing of the batch is stored;
- a keep-alive client keeps working across a genuine 500 (the answer says `Connection: close`);
- malformed JSON is a 400 giving the parser's position; the CSV row cap is BatchTooLarge, as for JSON;
- a body is not read before its key is checked (an anonymous 9.4 MB upload gets its 401 after 64 KB);
  a declared body that never comes gets 408; a client address holding too many requests gets 429;
- X-Forwarded-For is believed only from the trusted proxies of the settings (none by default).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port
from tests.processes import stop_process
from tests.reliability.failing_server import UNEXPECTED_ERROR_PATH

pytestmark = pytest.mark.e2e
SERVER_ENV = {"FRAGILITY_MAX_BATCH_ROWS": 100, "FRAGILITY_BODY_TIMEOUT_SECONDS": 5,
              "FRAGILITY_MAX_REQUESTS_PER_CLIENT": 4}
REGIONS = [{"id": "R01", "name": "One", "neighbours": ["R02"]}, {"id": "R02", "name": "Two", "neighbours": ["R01"]}]
SURROGATE = "\ud800"


@pytest.fixture(scope="module")
def server(live_server, database_url):
    """Return a server on each backend with R01, R02 and the count indicator `attacks` stored."""
    started = live_server(database_url, env=SERVER_ENV)
    with started.client(started.write_key) as client:
        assert client.post("/v1/regions", json={"regions": REGIONS}).status_code == 200
        assert client.post("/v1/indicators", json={"indicators": [{"id": "attacks", "kind": "count"}]}).is_success
    return started


def stored(server) -> dict[str, int]:
    """Return the number of regions, indicators and models stored, read over HTTP."""
    with server.client(server.read_key) as client:
        return {what: client.get(f"/v1/{what}").json()["count"] for what in ("regions", "indicators", "models")}


def post_raw(client: httpx.Client, path: str, text: str) -> httpx.Response:
    """Return the answer to POSTing `text` as a JSON body, byte for byte."""
    return client.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


SPILLOVER = '{"source": "R01", "target": "R02", "threshold": 1, "horizon": 3, "scenario": %s}'
BAD_SCENARIOS = {
    '{"scale": "x"}': '"scale" must be a number', '{"scale": null}': '"scale" must be a number',
    '{"scale": [1]}': '"scale" must be a number', '{"2026-01": "x"}': "month '2026-01' must be a number",
    '{"scale": NaN}': "finite", '{"scale": Infinity}': "finite", '{"scale": 1e309}': "finite",
    '[1, NaN]': "value 1 must be a finite number", '[-Infinity]': "finite", '[true, 2]': "value 0 must be a number",
    '{"2026-01": false}': "month '2026-01' must be a number", '{"scale": true}': '"scale" must be a number',
    '{"scale": -1}': "[0, 2**53]", '{"scale": 2, "2026-01": 3}': '"scale" alone', '{"26-1": 3}': "YYYY-MM",
    '"twice"': "must be a list", '{}': "is empty",
}


@pytest.mark.parametrize("scenario", list(BAD_SCENARIOS))
def test_bad_scenario_is_422_naming_the_field(server, scenario):
    with server.client(server.read_key) as client:
        answer = post_raw(client, "/v1/models/any/spillover", SPILLOVER % scenario)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == ["scenario"], errors
    assert BAD_SCENARIOS[scenario] in errors[0]["reason"], errors


@pytest.mark.parametrize("scenario", ['{"scale": 2}', '[40, null, 60]', '{"2026-01": 4, "2026-02": null}', "null"])
def test_good_scenario_passes_validation(server, scenario):
    with server.client(server.read_key) as client:
        answer = post_raw(client, "/v1/models/nothing-here/spillover", SPILLOVER % scenario)
    assert answer.status_code == 404 and answer.json()["error"] == "ModelNotFound", answer.text


def surrogate_bodies() -> list[tuple[str, dict, str, int | None]]:
    """Return (path, body, field, row) with a lone surrogate in one text field of each kind of body."""
    region = {"id": "R03", "name": "Three", "neighbours": []}
    model = {"name": "m1", "indicator": "attacks", "regions": ["R01"], "covariates": []}
    return [
        ("/v1/regions", {"regions": [region, {**region, "id": "R04", "name": "a" + SURROGATE}]}, "name", 1),
        ("/v1/regions", {"regions": [{**region, "id": SURROGATE}]}, "id", 0),
        ("/v1/regions", {"regions": [region, {**region, "id": "R05", "parent": SURROGATE}]}, "parent", 1),
        ("/v1/regions", {"regions": [{**region, "neighbours": [SURROGATE]}]}, "neighbours", 0),
        ("/v1/regions", {"regions": [{**region, "neighbours": [{"id": SURROGATE}]}]}, "neighbours", 0),
        ("/v1/indicators", {"indicators": [{"id": "i1", "kind": "count", "description": SURROGATE}]},
         "description", 0),
        ("/v1/indicators", {"indicators": [{"id": "i1", "kind": "count", "unit": "x" + SURROGATE}]}, "unit", 0),
        ("/v1/observations", {"observations": [{"region": "R01", "indicator": "attacks", "period": "2020-01",
                                                "value": 1},
                                               {"region": SURROGATE, "indicator": "attacks", "period": "2020-02",
                                                "value": 1}]}, "region", 1),
        ("/v1/models", {**model, "regions": ["R01", SURROGATE]}, "regions", 1),
        ("/v1/models", {**model, "covariates": [SURROGATE]}, "covariates", 0),
        ("/v1/models", {**model, "indicator": SURROGATE}, "indicator", None),
        ("/v1/models", {**model, "name": SURROGATE}, "name", None),
        ("/v1/models/any/spillover", {"source": SURROGATE, "target": "R02", "threshold": 1, "horizon": 1},
         "source", None),
        ("/v1/models/any/probability", {"region": SURROGATE, "threshold": 1, "horizon": 1}, "region", None),
    ]


@pytest.mark.parametrize(("path", "body", "field", "row"), surrogate_bodies(),
                         ids=[f"{p}:{f}" for p, _, f, _ in surrogate_bodies()])
def test_lone_surrogate_in_any_text_field_is_422_and_stores_nothing(server, path, body, field, row):
    before = stored(server)
    text = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800
    assert "\\ud800" in text
    with server.client(server.admin_key) as client:
        answer = post_raw(client, path, text)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert {"row": row, "field": field} in [{"row": e["row"], "field": e["field"]} for e in errors], errors
    assert "not valid Unicode" in errors[0]["reason"]
    assert stored(server) == before


def test_a_surrogate_as_raw_bytes_is_422_and_in_a_url_is_not_a_500(server):
    before = stored(server)
    raw = b'{"regions": [{"id": "R08", "name": "a\xed\xa0\x80", "neighbours": []}]}'  # \ud800 encoded as UTF-8
    with server.client(server.write_key) as client:
        answer = client.post("/v1/regions", content=raw, headers={"Content-Type": "application/json"})
        in_url = [client.get("/v1/series?region=%ED%A0%80&indicator=attacks").status_code,
                  client.get("/v1/models/%ED%A0%80").status_code]
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "name", answer.text
    assert in_url == [404, 404]
    assert stored(server) == before


def test_a_surrogate_pair_is_valid_text(server):
    body = json.dumps({"regions": [{"id": "R06", "name": "smile \U0001f600", "neighbours": []}]})
    assert "\\ud83d\\ude00" in body
    with server.client(server.write_key) as client:
        assert post_raw(client, "/v1/regions", body).status_code == 200
        names = {r["id"]: r["name"] for r in client.get("/v1/regions").json()["data"]}
    assert names["R06"] == "smile \U0001f600"


def test_malformed_json_is_400_with_the_parser_position(server):
    before = stored(server)
    with server.client(server.write_key) as client:
        answer = post_raw(client, "/v1/regions", '{"regions": [\n  {"id": "R07", "name": "x",}\n]}')
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "MalformedJSON" and "line 2, column 29" in body["detail"], body
    assert "Expecting property name" in body["detail"] and "errors" not in body
    assert stored(server) == before


def test_csv_row_cap_is_batch_too_large_like_json(server):
    rows = [{"region": "R01", "indicator": "attacks", "period": f"{1950 + i // 12}-{i % 12 + 1:02d}", "value": 1}
            for i in range(101)]
    csv = "region,indicator,period,value\n" + "".join(f"R01,attacks,{r['period']},1\n" for r in rows)
    with server.client(server.write_key) as client:
        from_json = client.post("/v1/observations", json={"observations": rows})
        from_csv = client.post("/v1/observations/csv", content=csv, headers={"Content-Type": "text/csv"})
        series = client.get("/v1/series", params={"region": "R01", "indicator": "attacks"}).json()
    assert from_json.status_code == from_csv.status_code == 422
    assert from_json.json()["error"] == from_csv.json()["error"] == "BatchTooLarge", (from_json.text, from_csv.text)
    assert "100" in from_csv.json()["detail"]
    assert series["points"] == []


def raw_exchange(server, head: str, body: bytes = b"", *, wait: float = 30) -> tuple[str, dict[str, str], dict]:
    """Return (status line, headers, JSON body) of the answer to `head` (request line and headers) plus `body`
    sent on a raw socket, read before anything more is sent; fails if no answer comes within `wait` s."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
        header_block, _, rest = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(rest) < int(headers.get("content-length", 0)):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return lines[0], headers, json.loads(rest or b"{}")


def upload_head(path: str, length: int, key: str | None = None) -> str:
    """Return the request line and headers of a JSON POST declaring `length` body bytes."""
    auth = f"Authorization: Bearer {key}\n" if key else ""
    return (f"POST {path} HTTP/1.1\nHost: test\nContent-Type: application/json\n{auth}"
            f"Content-Length: {length}\n")


def test_anonymous_upload_gets_401_before_its_body_is_sent(server):
    first_part = b'{"observations": [' + b" " * 65_000
    status, headers, body = raw_exchange(server, upload_head("/v1/observations", 9_400_000), first_part)
    assert status.startswith("HTTP/1.1 401"), (status, body)
    assert headers.get("connection") == "close" and body["error"] == "Unauthenticated"
    status, headers, body = raw_exchange(server, upload_head("/v1/observations", 9_400_000, "ff_unknown"),
                                         first_part)
    assert status.startswith("HTTP/1.1 401") and "unknown or revoked" in body["detail"], body
    status, _, body = raw_exchange(server, upload_head("/v1/regions", 9_400_000, server.read_key), first_part)
    assert status.startswith("HTTP/1.1 403") and body["error"] == "AccessDenied", body


def test_a_body_that_never_comes_gets_408(server):
    status, headers, body = raw_exchange(server, upload_head("/v1/regions", 100, server.write_key))
    assert status.startswith("HTTP/1.1 408"), (status, body)
    assert body["error"] == "RequestTimeout" and "within 5 s" in body["detail"], body
    assert headers.get("connection") == "close"


def test_requests_in_progress_per_client_are_capped(server):
    port = int(server.base_url.rsplit(":", 1)[1])
    holders = []
    try:
        for _ in range(SERVER_ENV["FRAGILITY_MAX_REQUESTS_PER_CLIENT"]):  # bodies declared, never sent
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(upload_head("/v1/regions", 100, server.write_key).replace("\n", "\r\n").encode() + b"\r\n")
            holders.append(sock)
        time.sleep(0.5)  # let the server take them in (the body timeout is 5 s)
        with server.client(server.read_key) as client:
            refused = client.get("/v1/regions")
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "TooManyRequestsInFlight" and refused.headers["Retry-After"] == "1"
    finally:
        for sock in holders:
            sock.close()
    with server.client(server.read_key) as client:
        for _ in range(50):  # the closed sockets' requests end (disconnect) and free the address's slots
            if client.get("/v1/regions").status_code == 200:
                break
            time.sleep(0.2)
        assert client.get("/v1/regions").status_code == 200


@pytest.fixture(scope="module")
def failing_server(server, tmp_path_factory):
    """Yield the base URL of a server on the same database whose app has one route raising an unexpected error."""
    port = free_port()
    log = Path(tmp_path_factory.mktemp("failing")) / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tests.reliability.failing_server", str(port)], cwd=ROOT,
                                   env={**server.env, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))},
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        stop_process(process, grace=30)


def test_keep_alive_client_keeps_working_after_a_500(failing_server, server):
    with httpx.Client(base_url=failing_server, headers={"Authorization": f"Bearer {server.read_key}"},
                      timeout=30) as client:
        for _ in range(3):
            assert client.get("/v1/regions").status_code == 200
            failed = client.get(UNEXPECTED_ERROR_PATH)
            assert failed.status_code == 500 and failed.json()["detail"] == "internal error", failed.text
            assert failed.headers["connection"] == "close"
            assert client.get("/v1/regions").status_code == 200  # on a fresh connection, not the closed one


@pytest.mark.parametrize("trusted", [False, True], ids=["default", "trusted-127.0.0.1"])
def test_forwarded_for_is_believed_only_from_trusted_proxies(live_server, tmp_path, trusted):
    # on SQLite only: which address a request comes from does not depend on the database
    env = {"FRAGILITY_RATE_LIMIT": "5/minute", **({"FRAGILITY_TRUSTED_PROXIES": "127.0.0.1"} if trusted else {})}
    proxied = live_server(f"sqlite:///{tmp_path / 'proxied.db'}", env=env)
    with httpx.Client(base_url=proxied.base_url, timeout=30) as anonymous:
        statuses = [anonymous.get("/v1/regions", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                    for i in range(10)]
    if trusted:
        assert statuses == [401] * 10  # each forwarded address has its own budget of 5
    else:
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}  # the rotating header is ignored


def test_openapi_of_the_server_documents_every_error_answer(server):
    with server.client() as anonymous:
        schema = anonymous.get("/openapi.json").json()
    error_body = {"$ref": "#/components/schemas/ErrorOut"}
    assert set(schema["components"]["schemas"]["ErrorOut"]["required"]) >= {"error", "detail", "hint"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            expected = {"429"} | ({"401", "403", "503"} if path.startswith("/v1/") else set())
            if method in ("post", "put", "patch"):
                expected |= {"400", "408", "413", "422"}
            if path.startswith("/v1/") and "{" in path:
                expected.add("404")
            assert expected <= set(answers), (method, path, sorted(answers))
            for status in expected:
                assert answers[status]["content"]["application/json"]["schema"] == error_body, (method, path, status)
    for path, method in [("/v1/models", "post"), ("/v1/models/{name}/spillover", "post"),
                         ("/v1/jobs/{job_id}/cancel", "post"), ("/v1/models/{name}/fit", "post")]:
        assert "409" in schema["paths"][path][method]["responses"], (method, path)

"""Error bodies of the API: one shape for every error, statuses by class, request ids, limits."""

from __future__ import annotations

import pytest

from indicators.errors import BatchRejected, InputError, RowError
from service.api.error_answers import row_error_from_loc
from service.errors import (
    AccessDenied,
    Conflict,
    DatabaseUnavailable,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    status_for,
)

SHAPE = {"error", "detail", "hint", "request_id"}
REGIONS = {"regions": [{"id": "AAA", "name": "A", "neighbours": ["BBB"]},
                       {"id": "BBB", "name": "B", "neighbours": ["AAA"]}]}
INDICATORS = {"indicators": [{"id": "attacks", "kind": "count"}]}


class ModelFailure(Exception):
    """Stands for a foreign error class: unlisted classes are 500."""


@pytest.mark.parametrize(("error", "status"), [
    (InputError("x"), 422), (BatchRejected([RowError(0, "value", "bad")]), 422), (NotFound(), 404),
    (Conflict(), 409), (Unauthenticated(), 401), (AccessDenied(), 403), (PayloadTooLarge(), 413),
    (RateLimited(retry_after=2), 429), (DatabaseUnavailable(), 503), (ModelFailure(), 500)])
def test_status_is_taken_from_the_most_specific_class_in_the_mro(error, status):
    assert status_for(error) == status


def test_pydantic_location_becomes_row_and_field():
    assert row_error_from_loc(("body", "observations", 3, "value"), "bad") == {
        "row": 3, "field": "value", "reason": "bad"}
    assert row_error_from_loc(("query", "region"), "missing")["field"] == "query.region"


def test_every_error_has_the_same_shape_and_echoes_the_request_id(api):
    answers = [
        api.client.get("/v1/regions", headers={"X-Request-ID": "abc-123"}),            # 401
        api.client.post("/v1/regions", json=REGIONS, headers=api.auth("read")),       # 403
        api.client.get("/v1/nope", headers=api.auth("read")),                         # 404
        api.client.post("/v1/observations", content=b"{not json", headers={**api.auth("write"),
                                                                           "Content-Type": "application/json"}),
        api.client.get("/v1/series", params={"region": "ZZZ", "indicator": "x"}, headers=api.auth("read")),
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 400, 404]  # malformed JSON: 400 (issue 19, item 6)
    for answer in answers:
        assert SHAPE <= set(answer.json()), answer.json()
        assert answer.json()["request_id"] == answer.headers["X-Request-ID"]
    assert answers[0].json()["request_id"] == "abc-123"


def test_request_validation_errors_list_row_and_field(api):
    body = {"observations": [{"region": "AAA", "indicator": "attacks", "period": "2020-01", "value": 1},
                             {"region": "AAA", "indicator": "attacks", "period": "2020-02", "value": True},
                             {"region": 7, "indicator": "attacks", "period": "2020-03", "value": 1}]}
    answer = api.client.post("/v1/observations", json=body, headers=api.auth("write"))
    assert answer.status_code == 422
    found = {(e["row"], e["field"]) for e in answer.json()["errors"]}
    assert {(1, "value"), (2, "region")} <= found, answer.json()


def test_validation_errors_say_nothing_was_stored_only_for_writes(api):
    write = api.client.post("/v1/observations", json={"observations": [{"region": 7}]}, headers=api.auth("write"))
    read = api.client.get("/v1/models/m/forecast", params={"region": "A", "horizon": 0}, headers=api.auth("read"))
    question = api.client.post("/v1/models/m/probability", json={"region": "A", "threshold": 1, "horizon": 0},
                               headers=api.auth("read"))
    assert [a.status_code for a in (write, read, question)] == [422, 422, 422]
    assert write.json()["detail"].endswith("nothing was stored")
    for answer in (read, question):
        assert "nothing was stored" not in answer.json()["detail"], answer.json()
        assert any(e["field"].endswith("horizon") for e in answer.json()["errors"]), answer.json()


def test_the_cli_prints_every_invalid_field_with_its_reason(api, capsys):
    import typer

    from service.cli.models import ServerClient

    client = ServerClient(str(api.client.base_url), api.keys["read"], http=api.client)
    with pytest.raises(typer.Exit):
        client.call("GET", "/v1/models/m/forecast", params={"region": "A", "horizon": 0})
    printed = capsys.readouterr().err
    assert "422 RequestInvalid" in printed and "--horizon:" in printed and "greater than" in printed, printed
    assert "nothing was stored" not in printed


def test_batch_rejected_lists_every_row_and_stores_nothing(api):
    assert api.client.post("/v1/regions", json=REGIONS, headers=api.auth("write")).status_code == 200
    assert api.client.post("/v1/indicators", json=INDICATORS, headers=api.auth("write")).status_code == 200
    rows = [{"region": "AAA", "indicator": "attacks", "period": "2020-01", "value": 1},
            {"region": "AAA", "indicator": "attacks", "period": "2020-02", "value": -4},
            {"region": "QQQ", "indicator": "attacks", "period": "2020-03", "value": 1}]
    answer = api.client.post("/v1/observations", json={"observations": rows}, headers=api.auth("write"))
    assert answer.status_code == 422
    assert answer.json()["error"] == "BatchRejected"
    assert [(e["row"], e["field"]) for e in answer.json()["errors"]] == [(1, "value"), (2, "region")]
    series = api.client.get("/v1/series", params={"region": "AAA", "indicator": "attacks"},
                            headers=api.auth("read")).json()
    assert series["points"] == []


def test_indicator_kind_cannot_change_once_it_has_observations(api):
    api.client.post("/v1/regions", json=REGIONS, headers=api.auth("write"))
    api.client.post("/v1/indicators", json=INDICATORS, headers=api.auth("write"))
    api.client.post("/v1/observations", headers=api.auth("write"), json={"observations": [
        {"region": "AAA", "indicator": "attacks", "period": "2020-01", "value": 3}]})
    answer = api.client.post("/v1/indicators", headers=api.auth("write"),
                             json={"indicators": [{"id": "attacks", "kind": "share"}]})
    assert answer.status_code == 409 and answer.json()["error"] == "Conflict"


def test_rate_limit_answers_429_with_retry_after(api_factory):
    limited = api_factory(rate_limit="3/minute")
    statuses = [limited.client.get("/v1/regions", headers=limited.auth("read")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    answer = limited.client.get("/v1/regions", headers=limited.auth("read"))
    assert answer.json()["error"] == "RateLimited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    other_key = limited.client.get("/v1/regions", headers=limited.auth("write"))
    assert other_key.status_code == 200  # the limit is per key


def test_oversize_body_is_413_before_parsing(api_factory):
    small = api_factory(max_body_bytes=1000)
    answer = small.client.post("/v1/observations", content=b"x" * 1001, headers={
        **small.auth("write"), "Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "PayloadTooLarge"


def test_database_unreachable_is_503_on_requests_and_readyz(api):
    api.client.app.state.db.engine.dispose()
    from service.db.engine import Database
    api.client.app.state.db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert api.client.get("/readyz").status_code == 503
    answer = api.client.get("/v1/regions", headers=api.auth("read"))
    assert answer.status_code == 503 and answer.json()["error"] == "DatabaseUnavailable"


def test_health_metrics_and_operation_ids(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["migrations"]["current"] == ready["migrations"]["head"]
    api.client.post("/v1/regions", json=REGIONS, headers=api.auth("write"))
    metrics = api.client.get("/metrics").text
    assert 'fragility_http_requests_total{method="POST",route="/v1/regions",status="200"} 1.0' in metrics
    assert "fragility_http_request_seconds_bucket" in metrics
    operation_ids = {op["operationId"] for path in api.client.get("/openapi.json").json()["paths"].values()
                     for op in path.values()}
    assert {"observations-post_observations", "series-get_series", "regions-get_regions"} <= operation_ids


def test_method_not_allowed_lists_every_allowed_method(api):
    answer = api.client.request("OPTIONS", "/v1/regions", headers=api.auth("read"))
    assert answer.status_code == 405 and answer.json()["error"] == "MethodNotAllowed"
    assert answer.headers["Allow"] == "GET, POST"

"""GET /v1/models and the other cheap lists cost the same few statements, one database connection and one
threadpool hop whatever the number of rows (issue 28: the p99 of GET /v1/models beside an abusive client came from
its three hops, two connections and their round trips, each a wait for the GIL and the event loop under load): the
key is checked in the endpoint's own thread with the endpoint's session (service.api.deps.ReadKeyInThread), the
models and their served versions are one statement (service.crud.models.models_out), jobs' model names and version
numbers one each (service.crud.jobs.jobs_out), and the answer is encoded in that thread. Counted, not timed:
statements and connection checkouts on the app's engine, and hops through anyio's threadpool. The key is still
checked on every request (a revoked key fails at once, a field refused before the endpoint ran is a 401 without a
valid key), and the list is each model's own detail."""

from __future__ import annotations

import anyio.to_thread
import pytest
from fastapi import APIRouter
from sqlalchemy import event

from service.api.deps import ReadKeyInThread, SessionDep
from service.api.session_route import SessionRoute
from service.crud.indicators import upsert_indicators
from service.crud.keys import revoke_key
from service.crud.models import create_model
from service.crud.versions import add_version
from service.db.engine import Database
from service.db.tables import utc_now

SAMPLER = {"method": "nutpie", "draws": 100, "tune": 100, "chains": 1, "seed": 1}


def add_models(api, names: list[str]) -> None:
    """Store models `names`, each with versions 1 (promoted) and 2 (promoted, then broken): it serves 1; the
    diagnostics are large, as a list must not read them. Returns nothing."""
    database = Database(api.settings.database_url)
    with database.session() as session:
        upsert_indicators(session=session, items=[{"id": "attacks", "kind": "count", "unit": "events"}])
        for name in names:
            model = create_model(session, data={"name": name, "family": "count", "indicator": "attacks",
                                                "regions": [], "covariates": [], "spillover": False, "horizon": 3,
                                                "sampler": SAMPLER})
            for number, broken in ((1, None), (2, "paths unreadable")):
                add_version(session, model_id=model.id, number=number, data_hash="d" * 64, spec_hash="s" * 64,
                            posterior_file="posterior.nc", posterior_sha256="0" * 64, gate_passed=True,
                            promoted_at=utc_now(), broken=broken, diagnostics={"rhat": [1.0] * 5000})
        session.commit()
    database.dispose()


class Cost:
    """Statements, connection checkouts and threadpool hops counted while it is `counting`."""

    def __init__(self, engine, monkeypatch) -> None:
        self.statements: list[str] = []
        self.isolation: list[str | None] = []
        self.checkouts = 0
        self.hops = 0
        self.counting = False
        event.listen(engine, "before_cursor_execute", self.statement)
        event.listen(engine.pool, "checkout", self.checkout)
        run_sync = anyio.to_thread.run_sync

        async def counted(*args, **kwargs):
            self.hops += self.counting
            return await run_sync(*args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)

    def statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.counting:
            self.statements.append(statement)
            self.isolation.append(conn.get_execution_options().get("isolation_level"))

    def checkout(self, *_) -> None:
        self.checkouts += self.counting

    def of(self, call) -> tuple[object, dict[str, int]]:
        """Return (call's result, its statements, checkouts and hops)."""
        self.statements, self.isolation, self.checkouts, self.hops, self.counting = [], [], 0, 0, True
        try:
            result = call()
        finally:
            self.counting = False
        return result, {"statements": len(self.statements), "checkouts": self.checkouts, "hops": self.hops}


def test_models_cost_one_hop_one_connection_and_few_statements_whatever_their_number(api, monkeypatch):
    cost = Cost(api.client.app.state.db.engine, monkeypatch)
    headers = api.auth("read")
    add_models(api, ["m0"])
    answer, one = cost.of(lambda: api.client.get("/v1/models", headers=headers))
    assert answer.status_code == 200 and answer.json()["count"] == 1
    add_models(api, [f"m{n}" for n in range(1, 30)])
    answer, thirty = cost.of(lambda: api.client.get("/v1/models", headers=headers))
    assert answer.status_code == 200 and answer.json()["count"] == 30
    # the key, then the models with their served versions; no statement per model, and nothing heavy read
    assert one == thirty == {"statements": 2, "checkouts": 1, "hops": 1}, (one, thirty, cost.statements)
    assert "diagnostics" not in cost.statements[1]
    assert cost.isolation == ["AUTOCOMMIT"] * 2  # reads: no BEGIN and ROLLBACK round trips around them
    assert {model["served_version"] for model in answer.json()["data"]} == {1}  # version 2 is broken
    answer, detail = cost.of(lambda: api.client.get("/v1/models/m7", headers=headers))
    assert answer.status_code == 200 and answer.json()["served_version"] == 1
    assert detail == {"statements": 3, "checkouts": 1, "hops": 1}, (detail, cost.statements)  # key, model, served
    missing = api.client.get("/v1/models/nope", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "ModelNotFound"
    assert api.client.get("/v1/models/nope").status_code == 401  # the key before the model's existence


def test_the_list_is_each_models_own_detail(api):
    headers = api.auth("read")
    add_models(api, ["b-model", "a-model"])
    listed = api.client.get("/v1/models", headers=headers)
    assert listed.headers["content-type"] == "application/json"
    body = listed.json()
    assert [model["name"] for model in body["data"]] == ["a-model", "b-model"] and body["count"] == 2
    for model in body["data"]:
        assert model == api.client.get(f"/v1/models/{model['name']}", headers=headers).json()


def test_the_key_is_still_checked_on_every_request(api):
    reader = api.auth("read")
    assert api.client.get("/v1/models", headers=reader).status_code == 200
    assert api.client.get("/v1/models").status_code == 401  # no key, reads not public
    wrong = api.client.get("/v1/models", headers={"Authorization": "Bearer ff_not-a-real-key"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Unauthenticated"
    database = Database(api.settings.database_url)
    with database.session() as session:
        revoke_key(session=session, prefix_or_id=api.keys["read"])
    database.dispose()
    assert api.client.get("/v1/models", headers=reader).status_code == 401  # its next request
    assert api.client.get("/v1/models", headers=api.auth("write")).status_code == 200


def test_only_a_sync_endpoint_taking_the_session_can_leave_the_key_to_its_thread():
    guarded = APIRouter(route_class=SessionRoute)
    with pytest.raises(TypeError, match="sync endpoint taking `session`"):
        @guarded.get("/async")
        async def answered_on_the_loop(session: SessionDep, _: ReadKeyInThread) -> dict:
            return {}


@pytest.mark.parametrize("path", ["/v1/models/x/versions?limit=0", "/v1/jobs?limit=abc", "/v1/regions?limit=0",
                                  "/v1/models/x/jobs?limit=0"])
def test_a_field_refused_before_the_endpoint_ran_is_refused_after_the_key(api, path):
    # no key, a wrong key: 401 as before (the key first); a valid key: the 422 naming the field
    assert api.client.get(path).status_code == 401
    wrong = api.client.get(path, headers={"Authorization": "Bearer ff_not-a-real-key"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "Unauthenticated"
    answer = api.client.get(path, headers=api.auth("read"))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "query.limit", answer.text


def test_the_other_lists_cost_one_hop_and_one_connection_and_jobs_no_statement_per_job(api, monkeypatch):
    from service.crud.queue import enqueue

    cost = Cost(api.client.app.state.db.engine, monkeypatch)
    headers = api.auth("read")
    add_models(api, ["m0"])
    database = Database(api.settings.database_url)

    def add_jobs(count: int) -> None:
        with database.session() as session:
            for _ in range(count):
                enqueue(session, kind="backtest", model_id=1, now=utc_now(), payload={})
            session.commit()

    add_jobs(1)
    costs = {}
    for path in ("/v1/jobs", "/v1/models/m0/jobs", "/v1/regions", "/v1/indicators", "/v1/models/m0/versions"):
        answer, costs[path] = cost.of(lambda: api.client.get(path, headers=headers))
        assert answer.status_code == 200, answer.text
        assert costs[path]["hops"] == 1 and costs[path]["checkouts"] == 1, (path, costs[path])
    add_jobs(40)
    for path in ("/v1/jobs", "/v1/models/m0/jobs"):
        answer, more = cost.of(lambda: api.client.get(path, headers=headers))
        assert answer.json()["count"] == 41 if path == "/v1/jobs" else 20
        assert more == costs[path], (path, costs[path], more, cost.statements)
    assert api.client.get("/v1/jobs", headers=headers).json()["data"][0]["model"] == "m0"
    database.dispose()


def test_a_key_left_to_the_endpoints_thread_is_checked_on_a_plain_route(api):
    # ReadKeyInThread on a route that is not a SessionRoute: checked before the endpoint, as ReadKey
    plain = APIRouter()

    @plain.get("/plain-list")
    def plain_route(session: SessionDep, key: ReadKeyInThread) -> dict:
        return {"key": key.key_id}

    api.client.app.include_router(plain)
    assert api.client.get("/plain-list").status_code == 401
    assert api.client.get("/plain-list", headers={"Authorization": "Bearer ff_nope"}).status_code == 401
    answer = api.client.get("/plain-list", headers=api.auth("read"))
    assert answer.status_code == 200 and isinstance(answer.json()["key"], int)


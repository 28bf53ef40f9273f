"""A request gives its pooled database connection back before it waits for its next threadpool hop.

FastAPI runs the key check, the endpoint and the answer's validation of a sync route in separate
threadpool hops. A connection kept across them sits idle while the request queues behind up to 40
others: under load the pool runs dry and requests get 503s (the 37 x 503 of the first bench/load.py
run). These tests watch the pool from inside a request: nothing may be checked out when the endpoint
starts (the key lookup's connection is back) nor while the answer is validated (SessionRoute closed
the session in the endpoint's thread).
"""

from __future__ import annotations

from pydantic import BaseModel, model_validator
from sqlalchemy import func, select

from service.api.deps import ReadKey, SessionDep
from service.api.session_route import SessionRoute
from service.db.tables import Region
from tests.reliability.conftest import Seeded


def test_no_connection_is_held_between_the_hops_of_a_request(seeded: Seeded):
    client = seeded.client("read")
    app = client.app
    seen: dict[str, int] = {}

    class Answer(BaseModel):
        regions: int

        @model_validator(mode="after")
        def note_pool(self):
            seen["while validating the answer"] = app.state.db.engine.pool.checkedout()
            return self

    def count_regions(session: SessionDep, _: ReadKey) -> dict:
        seen["when the endpoint starts"] = app.state.db.engine.pool.checkedout()
        regions = session.scalar(select(func.count()).select_from(Region))
        seen["after the endpoint's query"] = app.state.db.engine.pool.checkedout()
        return {"regions": regions}

    app.router.add_api_route("/test/pool", count_regions, methods=["GET"], response_model=Answer,
                             route_class_override=SessionRoute)
    with client:
        answer = client.get("/test/pool")
    assert answer.status_code == 200 and answer.json() == {"regions": len(seeded.regions)}, answer.text
    assert seen == {"when the endpoint starts": 0, "after the endpoint's query": 1,
                    "while validating the answer": 0}, seen


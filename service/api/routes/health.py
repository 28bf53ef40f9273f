"""Liveness, readiness (database reachable, migrations at head) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import DBAPIError

from service.api.deps import DatabaseDep, MetricsDep
from service.db.engine import current_revisions, head_revisions

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """Return {"status": "ok"} while the process serves requests (on the event loop: no thread needed, so it
    answers while every request thread is busy)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database unreachable or not migrated"}})
def readyz(db: DatabaseDep) -> JSONResponse:
    """Return 200 when the database answers and is migrated to head, else 503 saying which check failed."""
    heads = head_revisions(db.url)
    try:
        current = current_revisions(db.engine)
    except DBAPIError as exc:
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {type(exc.orig).__name__}",
                             "migrations": None}, status_code=503)
    at_head = current == heads
    body = {"status": "ready" if at_head else "unavailable", "database": "ok",
            "migrations": {"current": sorted(current), "head": sorted(heads)}}
    return JSONResponse(body, status_code=200 if at_head else 503)


@router.get("/metrics", response_class=Response)
def metrics(collectors: MetricsDep) -> Response:
    """Return the Prometheus metrics of this process (requests, latency by route, rows ingested)."""
    return Response(collectors.render(), media_type=CONTENT_TYPE_LATEST)

"""Observations: atomic batch upsert from JSON or CSV."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from indicators import InputError, read_observations_csv_lines
from service.api.deps import MetricsDep, SessionDep, SettingsDep, WriteKey
from service.api.session_route import SessionRoute
from service.crud.observations import BatchResult, ingest_rows
from service.db.engine import Database
from service.observability import Metrics
from service.schemas.data import WRITE_ERRORS, BatchResultOut, ObservationBatchIn, error_responses

router = APIRouter(route_class=SessionRoute, prefix="/observations", tags=["observations"],
                   responses={**WRITE_ERRORS, **error_responses(409)})
CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {
    "type": "string", "example": "region,indicator,period,value\nIRQ,attacks,2024-01,12\n"}}}}}


@router.post("", response_model=BatchResultOut)
def post_observations(body: ObservationBatchIn, session: SessionDep, settings: SettingsDep,
                      metrics: MetricsDep, _: WriteKey) -> dict:
    """Store the batch atomically; return inserted, updated and unchanged counts."""
    result = ingest_rows(session=session, rows=body.rows(), max_rows=settings.max_batch_rows,
                         max_revisions_per_cell=settings.max_revisions_per_cell)
    return _counted(result, metrics)


@router.post("/csv", response_model=BatchResultOut, openapi_extra=CSV_BODY)
async def post_observations_csv(request: Request, settings: SettingsDep, metrics: MetricsDep,
                                _: WriteKey) -> dict:
    """Store a CSV batch (header region,indicator,period,value) atomically; return the counts. Row errors give
    the 0-based data row and the file `line` where the row starts (the header is line 1)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in ("text/csv", "text/plain", "application/csv"):
        raise InputError(f"expected a text/csv body, got content type {content_type or 'none'!r}",
                         hint="Send the CSV with `Content-Type: text/csv`.")
    data = await request.body()
    result = await run_in_threadpool(_ingest_csv, request.app.state.db, data, settings.max_batch_rows,
                                    settings.max_revisions_per_cell)
    return _counted(result, metrics)


def _ingest_csv(db: Database, data: bytes, max_rows: int, keep: int) -> BatchResult:
    rows, lines = read_observations_csv_lines(data, max_rows=max_rows)
    with db.session() as session:
        return ingest_rows(session=session, rows=rows, max_rows=max_rows, lines=lines, max_revisions_per_cell=keep)


def _counted(result: BatchResult, metrics: Metrics) -> dict:
    metrics.count_rows(result.inserted, result.updated, result.unchanged)
    return result.to_dict()

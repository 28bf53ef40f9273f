"""Indicators: upsert a batch (POST) and list them (GET)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from indicators import BatchTooLarge
from service.api.deps import ReadKeyInThread, SessionDep, SettingsDep, WriteKey
from service.api.session_route import SessionRoute, json_answer
from service.crud.indicators import list_indicators, upsert_indicators
from service.schemas.data import WRITE_ERRORS, IndicatorBatchIn, IndicatorListOut, UpsertCountsOut, error_responses

router = APIRouter(route_class=SessionRoute, prefix="/indicators", tags=["indicators"], responses=WRITE_ERRORS)


@router.post("", response_model=UpsertCountsOut, responses=error_responses(409))
def post_indicators(body: IndicatorBatchIn, session: SessionDep, settings: SettingsDep, _: WriteKey) -> dict:
    """Store the indicators atomically; return inserted, updated and unchanged counts."""
    if len(body.indicators) > settings.max_batch_rows:
        raise BatchTooLarge(f"batch has {len(body.indicators)} indicators; at most {settings.max_batch_rows}")
    return upsert_indicators(session=session, items=[i.model_dump() for i in body.indicators])


@router.get("", response_model=IndicatorListOut)
def get_indicators(session: SessionDep, _: ReadKeyInThread) -> Response:
    """Return every stored indicator."""
    data = list_indicators(session=session)
    return json_answer(IndicatorListOut, {"data": data, "count": len(data)})

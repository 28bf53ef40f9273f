"""Regions: upsert a batch (POST) and list them (GET)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.deps import ReadKeyInThread, SessionDep, SettingsDep, WriteKey
from service.api.pagination import CursorQuery, decode_cursor, page
from service.api.session_route import SessionRoute, json_answer
from service.crud.regions import list_regions, upsert_regions
from service.schemas.data import WRITE_ERRORS, RegionBatchIn, RegionListOut, UpsertCountsOut

router = APIRouter(route_class=SessionRoute, prefix="/regions", tags=["regions"], responses=WRITE_ERRORS)


@router.post("", response_model=UpsertCountsOut)
def post_regions(body: RegionBatchIn, session: SessionDep, settings: SettingsDep, _: WriteKey) -> dict:
    """Store the regions atomically; return inserted, updated and unchanged counts."""
    return upsert_regions(session=session, items=[r.to_dict() for r in body.regions],
                          max_rows=settings.max_batch_rows, max_neighbours=settings.max_region_neighbours)


MAX_REGIONS_PAGE = 5000


@router.get("", response_model=RegionListOut)
def get_regions(session: SessionDep, _: ReadKeyInThread,
                limit: Annotated[int, Query(ge=1, le=MAX_REGIONS_PAGE, description=(
                    f"regions per page, at most {MAX_REGIONS_PAGE}"))] = 1000,
                cursor: CursorQuery = None) -> Response:
    """Return the stored regions with their neighbours, by id, one page at a time (`limit`, `cursor` = the
    previous page's `next_cursor`)."""
    after = decode_cursor(cursor, (str,))
    data = list_regions(session=session, after=after[0] if after else None, limit=limit + 1)
    data, next_cursor = page(data, limit, lambda region: [region["id"]])
    return json_answer(RegionListOut, {"data": data, "count": len(data), "next_cursor": next_cursor})

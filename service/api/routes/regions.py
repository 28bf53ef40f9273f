"""Regions: upsert a batch (POST) and list them (GET)."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ReadKey, SessionDep, SettingsDep, WriteKey
from service.api.session_route import SessionRoute
from service.crud.regions import list_regions, upsert_regions
from service.schemas.data import WRITE_ERRORS, RegionBatchIn, RegionListOut, UpsertCountsOut

router = APIRouter(route_class=SessionRoute, prefix="/regions", tags=["regions"], responses=WRITE_ERRORS)


@router.post("", response_model=UpsertCountsOut)
def post_regions(body: RegionBatchIn, session: SessionDep, settings: SettingsDep, _: WriteKey) -> dict:
    """Store the regions atomically; return inserted, updated and unchanged counts."""
    return upsert_regions(session=session, items=[r.to_dict() for r in body.regions],
                          max_rows=settings.max_batch_rows, max_neighbours=settings.max_region_neighbours)


@router.get("", response_model=RegionListOut)
def get_regions(session: SessionDep, _: ReadKey) -> dict:
    """Return every stored region with its neighbours."""
    data = list_regions(session=session)
    return {"data": data, "count": len(data)}

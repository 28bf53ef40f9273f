"""Series: the observed months of one region's indicator, and the history of values replaced by later batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import ReadKey, SessionDep
from service.api.session_route import SessionRoute
from service.crud.observations import read_revisions, read_series
from service.schemas.data import READ_ERRORS, RevisionListOut, SeriesOut, error_responses

router = APIRouter(route_class=SessionRoute, prefix="/series", tags=["series"],
                   responses={**READ_ERRORS, **error_responses(404)})
Month = Annotated[str | None, Query(description="first/last month, YYYY-MM (inclusive)", max_length=7)]


@router.get("", response_model=SeriesOut)
def get_series(region: str, indicator: str, session: SessionDep, _: ReadKey,
               start: Month = None, end: Month = None) -> dict:
    """Return the observed points of the series in period order; missing months are absent, not zero."""
    points = read_series(session=session, region=region, indicator=indicator, start=start, end=end)
    return {"region": region, "indicator": indicator,
            "points": [{"period": p, "value": v} for p, v in points]}


@router.get("/revisions", response_model=RevisionListOut)
def get_revisions(region: str, indicator: str, session: SessionDep, _: ReadKey,
                  period: Annotated[str | None, Query(description="one month, YYYY-MM (default: every month)",
                                                      max_length=7)] = None) -> dict:
    """Return every value of the series that a later batch replaced (old and new value, when, which batch), by
    period and then oldest first; a series never revised has none."""
    revisions = read_revisions(session=session, region=region, indicator=indicator, period=period)
    return {"region": region, "indicator": indicator, "revisions": revisions, "count": len(revisions)}

"""Series: the observed months of one region's indicator, the history of values replaced by later batches,
and thresholds suggested from the months."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from indicators import InputError, suggested_thresholds
from indicators.thresholds import DEFAULT_LEVELS, DEFAULT_MONTHS
from service.api.deps import ReadKey, SessionDep
from service.api.pagination import CursorQuery, decode_cursor, page
from service.api.session_route import SessionRoute
from service.crud.indicators import indicator_record
from service.crud.observations import read_revisions, read_series
from service.schemas.data import READ_ERRORS, RevisionListOut, SeriesOut, ThresholdsOut, error_responses

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


MAX_REVISIONS_PAGE = 5000


@router.get("/revisions", response_model=RevisionListOut)
def get_revisions(region: str, indicator: str, session: SessionDep, _: ReadKey,
                  period: Annotated[str | None, Query(description="one month, YYYY-MM (default: every month)",
                                                      max_length=7)] = None,
                  limit: Annotated[int, Query(ge=1, le=MAX_REVISIONS_PAGE, description=(
                      f"revisions per page, at most {MAX_REVISIONS_PAGE}"))] = 1000,
                  cursor: CursorQuery = None) -> dict:
    """Return the values of the series that a later batch replaced (old and new value, when, which batch), by
    period and then oldest first, one page at a time (`limit`, `cursor` = the previous page's `next_cursor`);
    a series never revised has none."""
    after = decode_cursor(cursor, (str, int))
    rows = read_revisions(session=session, region=region, indicator=indicator, period=period,
                          after=tuple(after) if after else None, limit=limit + 1)
    rows, next_cursor = page(rows, limit, lambda row: [row["period"], row["id"]])
    return {"region": region, "indicator": indicator, "revisions": rows, "count": len(rows),
            "next_cursor": next_cursor}


def parse_levels(text: str) -> tuple[float, ...]:
    """Return the quantile levels of `?levels=0.5,0.75,0.9`; raises InputError for anything else."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise InputError(f"levels must be numbers in (0, 1) separated by commas, got {text!r}",
                         hint="Ask for levels such as 0.5,0.75,0.9.") from exc


@router.get("/thresholds", response_model=ThresholdsOut)
def get_thresholds(
    region: str,
    indicator: str,
    session: SessionDep,
    _: ReadKey,
    months: Annotated[int, Query(ge=1, le=1200, description="the last N observed months")] = DEFAULT_MONTHS,
    levels: Annotated[str, Query(max_length=200, description="quantile levels, comma-separated")] = ",".join(
        str(level) for level in DEFAULT_LEVELS),
) -> dict:
    """Return suggested thresholds for a probability or spillover question: the region's own quantiles
    (by default the 50th, 75th and 90th percentile) of its last `months` observed months, in the indicator's unit.

    404 for an unknown region or indicator; 422 when the series has no observations or a level is not in (0, 1).
    """
    points = read_series(session=session, region=region, indicator=indicator)[-months:]
    record = indicator_record(session=session, indicator=indicator)
    if not points:
        raise InputError(f"region {region!r} has no observations of {indicator!r} to suggest thresholds from",
                         hint="Store observations first (POST /v1/observations), or choose another region.")
    suggestions = suggested_thresholds([value for _, value in points], kind=record["kind"],
                                       levels=parse_levels(levels), months=months)
    return {"region": region, "indicator": indicator, "kind": record["kind"], "unit": record["unit"],
            "months": len(points), "start": points[0][0], "end": points[-1][0],
            "suggestions": [s.to_dict() for s in suggestions]}

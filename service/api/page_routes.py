"""Mounts the analyst's web page, its static files, the fan-chart PNG and a model's job list on the app.

`GET /` serves service/web/index.html and `/static/*` the page's JS and CSS (public: the page
holds no data; every number it shows comes from the read-key-guarded JSON API).
`GET /v1/models/{name}/forecast.png` draws the served forecast of one region with its history.
`GET /v1/models/{name}/jobs` lists the model's latest jobs for the page's job table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import select

from indicators import add_months, month_range
from service.api.deps import ReadKey, SessionDep
from service.api.session_route import SessionRoute
from service.api.routes.forecasts import PathCacheDep, check_horizon
from service.crud.jobs import job_out
from service.crud.observations import read_series
from service.path_cache import resolve
from service.plots import REQUIRED_QUANTILES, fan_chart_png
from service.registry import model_by_name
from service.schemas.jobs import JobOut
from service.tables_registry import Job

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MAX_HISTORY_MONTHS = 240

router = APIRouter(route_class=SessionRoute, tags=["page"])


class JobListOut(BaseModel):
    """The latest jobs of one model, newest first, with the count returned."""

    model: str
    data: list[JobOut]
    count: int


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """Return the web page."""
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/v1/models/{name}/forecast.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "fan chart"}})
def forecast_png(
    name: str,
    session: SessionDep,
    cache: PathCacheDep,
    _: ReadKey,
    region: str,
    horizon: Annotated[int, Query(ge=1)] = 6,
    history: Annotated[int, Query(ge=0, le=MAX_HISTORY_MONTHS, description="months of history shown")] = 48,
    version: int | None = None,
) -> Response:
    """Return a PNG fan chart of one region: observed history, forecast median, 50% and 90% bands."""
    served, stored = resolve(session, cache, name, version)
    check_horizon(served, horizon)
    forecast = stored.first_steps(horizon)
    table = forecast.quantiles(region, list(REQUIRED_QUANTILES))
    rows = [{str(q): float(record[str(q)]) for q in REQUIRED_QUANTILES} for record in table.to_dict("records")]
    history_periods, history_values = [], []
    if history:
        end = add_months(forecast.periods[0], -1)
        observed = dict(read_series(session=session, region=region, indicator=served.indicator,
                                    start=add_months(end, 1 - history), end=end))
        if observed:
            history_periods = month_range(min(observed), end)
            history_values = [observed.get(period) for period in history_periods]
    png = fan_chart_png(history_periods, history_values, list(forecast.periods), rows,
                        title=f"{region}: {served.indicator} · {name} v{served.number}",
                        ylabel=served.indicator)
    return Response(content=png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=60"})


@router.get("/v1/models/{name}/jobs", response_model=JobListOut)
def model_jobs(name: str, session: SessionDep, _: ReadKey,
               limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
    """Return the model's latest jobs (fits, backtests, forecasts), newest first."""
    model = model_by_name(session, name)
    jobs = session.scalars(select(Job).where(Job.model_id == model.id).order_by(Job.id.desc()).limit(limit)).all()
    data = [job_out(session, job) for job in jobs]
    return {"model": name, "data": data, "count": len(data)}


class RevalidatedStaticFiles(StaticFiles):
    """Static files that browsers must revalidate (ETag) before reuse, so an upgrade shows at once."""

    def file_response(self, *args, **kwargs):
        """Return the file response with `Cache-Control: no-cache`."""
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount(app: FastAPI) -> None:
    """Add the page, its static files, the PNG and job-list routes to `app`; returns nothing."""
    app.include_router(router)
    app.mount("/static", RevalidatedStaticFiles(directory=WEB_DIR), name="static")


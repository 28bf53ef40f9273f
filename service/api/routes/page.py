"""Routes of the analyst's web page: the page itself, its static files and the fan-chart PNG.

`GET /` serves service/web/index.html and `/static/*` the page's JS and CSS (`RevalidatedStaticFiles`,
mounted by `service.api.mount`; public: the page holds no data; every number it shows comes from the
read-key-guarded JSON API). `GET /v1/models/{name}/forecast.png` draws the served forecast of one region
with its history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from indicators import add_months, month_range
from service.api.deps import ReadKey, SessionDep
from service.api.routes.forecasts import PathCacheDep, check_horizon
from service.api.session_route import SessionRoute
from service.crud.observations import read_series
from service.schemas.data import error_responses
from service.serving.path_cache import resolve
from service.serving.plots import REQUIRED_QUANTILES, fan_chart_png

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
MAX_HISTORY_MONTHS = 240

router = APIRouter(route_class=SessionRoute, tags=["page"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """Return the web page."""
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/v1/models/{name}/forecast.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "fan chart"}, **error_responses(409)})
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
                        ylabel=f"{served.indicator} ({served.unit})" if served.unit else served.indicator)
    return Response(content=png, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=60"})


class RevalidatedStaticFiles(StaticFiles):
    """Static files that browsers must revalidate (ETag) before reuse, so an upgrade shows at once."""

    def file_response(self, *args, **kwargs):
        """Return the file response with `Cache-Control: no-cache`."""
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response

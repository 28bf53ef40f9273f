"""The one place routes are mounted: health at the root, the data routers under /v1, the registry
routers (models, forecasts, jobs, backtests), the page with its static files, the offline /docs and /redoc
with their assets, and a start-up warm-up
of the path cache with the served versions (so a first forecast does not load files)."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from service.api.routes import (
    backtests,
    docs,
    forecasts,
    health,
    indicators,
    jobs,
    models,
    observations,
    page,
    regions,
    series,
)
from service.crud.models import model_names
from service.errors import NoServedVersion
from service.serving.artifacts import settings_store
from service.serving.path_cache import PathCache, resolve

log = logging.getLogger("fragility.registry")


def data_router() -> APIRouter:
    """Return the /v1 router of the data routes (regions, indicators, observations, series)."""
    router = APIRouter(prefix="/v1")
    for module in (regions, indicators, observations, series):
        router.include_router(module.router)
    return router


def warm_path_cache(app: FastAPI) -> None:
    """Load the forecast paths of every model's served version into the app's path cache, after starting the
    question processes when `app.state.warm_questions` (`fragility serve`); returns nothing."""
    if getattr(app.state, "path_cache", None) is None:
        app.state.path_cache = PathCache(settings_store(app.state.settings), app.state.settings.cache_bytes)
    if getattr(app.state, "warm_questions", False):
        forecasts.start_question_pool(app)
    try:
        with app.state.db.session() as session:
            for name in model_names(session):
                try:
                    resolve(session, app.state.path_cache, name)
                except NoServedVersion:
                    continue
    except Exception:  # warming is an optimisation: the first request loads what is missing
        log.warning("could not warm the path cache", exc_info=True)


def warm_path_cache_on_start(app: FastAPI) -> None:
    """Wrap the app's lifespan so that starting it warms the path cache in a thread; returns nothing."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application):
        async with inner(application) as state:
            threading.Thread(target=warm_path_cache, args=(application,), name="warm-path-cache", daemon=True).start()
            try:
                yield state
            finally:
                pool = getattr(application.state, "question_pool", None)
                if pool is not None:
                    pool.close()  # queued questions are dropped; running ones stop at their next checkpoint

    app.router.lifespan_context = lifespan


def mount_routes(app: FastAPI) -> None:
    """Add every router of the service, the page's static files and the path-cache warm-up to `app`; returns nothing."""
    app.include_router(health.router)
    app.include_router(data_router())
    for module in (models, forecasts, jobs, backtests, page, docs):
        app.include_router(module.router)
    app.mount("/static", page.RevalidatedStaticFiles(directory=page.WEB_DIR), name="static")
    app.mount(docs.ASSETS_URL, docs.docs_assets(), name="docs-assets")
    warm_path_cache_on_start(app)

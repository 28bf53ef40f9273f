"""Mounts the model-registry routes (models, jobs, forecasts, backtests) on the app, and warms the
path cache with the served versions when the app starts (so a first forecast does not load files)."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select

from service.api.routes import backtests, forecasts, jobs, models
from service.path_cache import PathCache, resolve
from service.registry import NoServedVersion
from service.tables_registry import RegisteredModel

log = logging.getLogger("fragility.registry")


def warm_path_cache(app: FastAPI) -> None:
    """Load the forecast paths of every model's served version into the app's path cache; returns nothing."""
    if getattr(app.state, "path_cache", None) is None:
        app.state.path_cache = PathCache(app.state.settings.artifacts)
    try:
        with app.state.db.session() as session:
            for name in session.scalars(select(RegisteredModel.name)).all():
                try:
                    resolve(session, app.state.path_cache, name)
                except NoServedVersion:
                    continue
    except Exception:  # warming is an optimisation: the first request loads what is missing
        log.warning("could not warm the path cache", exc_info=True)


def mount(app: FastAPI) -> None:
    """Add the registry routers to `app` and a start-up warm-up of the path cache; returns nothing."""
    for module in (models, forecasts, jobs, backtests):
        app.include_router(module.router)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application):
        async with inner(application) as state:
            threading.Thread(target=warm_path_cache, args=(application,), name="warm-path-cache", daemon=True).start()
            yield state

    app.router.lifespan_context = lifespan

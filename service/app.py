"""The FastAPI application factory: settings, database, middleware, error handlers, routes, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from service.api.error_answers import install_error_handlers
from service.api.mount import mount_routes
from service.api.openapi import document_error_answers
from service.db.engine import Database, run_migrations, safe_url
from service.limits import BodySizeLimit, ClientConcurrencyLimit, RateLimiter
from service.observability import Metrics, RequestContext, configure_logging
from service.settings import Settings, get_settings

StartHook = Callable[[], Callable[[], None]]
log = logging.getLogger("fragility.app")


def operation_id(route: APIRoute) -> str:
    """Return the OpenAPI operation id of a route: its first tag and its function name."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None, *, start_hooks: Iterable[StartHook] = (),
               warm_questions: bool = False) -> FastAPI:
    """Return the service app; its lifespan migrates the database, then starts each hook and stops it at exit
    (and, with `warm_questions`, starts the question processes at once rather than at the first question)."""
    settings = settings or get_settings()
    hooks = list(start_hooks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(run_migrations, settings.database_url)
        stops: list[Callable[[], None]] = []
        try:
            for hook in hooks:
                stops.append(await run_in_threadpool(hook))
            log.info("service started", extra={"database": safe_url(settings.database_url)})
            yield
        finally:
            for stop in reversed(stops):
                try:
                    await run_in_threadpool(stop)
                except Exception:  # one failing stop must not keep the others running
                    log.exception("a start hook's stop function failed")
            app.state.db.dispose()

    configure_logging(settings.log_level)
    app = FastAPI(title="fragility-forecast", version="0.1.0", lifespan=lifespan,
                  description="Bayesian early-warning service for state-failure indicators.",
                  generate_unique_id_function=operation_id,
                  docs_url=None, redoc_url=None)  # served offline by service/api/routes/docs.py
    app.state.settings = settings
    app.state.warm_questions = warm_questions
    app.state.db = Database(settings.database_url, settings.db)
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter(settings.rate_limit)
    install_error_handlers(app)
    document_error_answers(app)
    mount_routes(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ClientConcurrencyLimit, max_requests=settings.max_requests_per_client)
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app

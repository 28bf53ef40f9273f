"""The HTTP API: data routers under /v1, health at the root, then the registry and page routes."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from service.api import page_routes, registry_routes
from service.api.routes import health, indicators, observations, regions, series

api_router = APIRouter(prefix="/v1")
for _module in (regions, indicators, observations, series):
    api_router.include_router(_module.router)


def mount_routes(app: FastAPI) -> None:
    """Add every router of the service to `app`; returns nothing."""
    app.include_router(health.router)
    app.include_router(api_router)
    registry_routes.mount(app)
    page_routes.mount(app)

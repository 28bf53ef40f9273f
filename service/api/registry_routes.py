"""Mounts the model-registry routes (models, jobs, forecasts, backtests) on the app."""

from fastapi import FastAPI

from service.api.routes import backtests, forecasts, jobs, models


def mount(app: FastAPI) -> None:
    """Add the registry routers to `app`; returns nothing."""
    for module in (models, forecasts, jobs, backtests):
        app.include_router(module.router)

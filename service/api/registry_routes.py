"""Mounts the model-registry routes (models, jobs, forecasts, backtests) on the app."""

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the registry routers to `app`; returns nothing."""

"""Mounts the analyst's web page and the fan-chart PNG route on the app."""

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    """Add the page routes to `app`; returns nothing."""

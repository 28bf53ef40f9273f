"""API documentation pages that work offline: Swagger UI at /docs and ReDoc at /redoc.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they are blank without internet.
Here the same pages (FastAPI's `get_swagger_ui_html` / `get_redoc_html`) load the assets from the
server itself, under /docs-assets/, out of the files the `fastapi-offline` package ships.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"

router = APIRouter(tags=["docs"])


def docs_assets() -> StaticFiles:
    """Return the static-files app serving Swagger UI's and ReDoc's JS, CSS and favicon (mounted at ASSETS_URL)."""
    return StaticFiles(directory=ASSETS_DIR)


@router.get("/docs", include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    """Return the Swagger UI page of the OpenAPI document, with every asset served locally."""
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title=f"{request.app.title} - API",
                               swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                               swagger_favicon_url=f"{ASSETS_URL}/favicon.png")


@router.get("/redoc", include_in_schema=False)
def redoc(request: Request) -> HTMLResponse:
    """Return the ReDoc page of the OpenAPI document, with every asset served locally (no web fonts)."""
    return get_redoc_html(openapi_url=request.app.openapi_url, title=f"{request.app.title} - ReDoc",
                          redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                          redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)

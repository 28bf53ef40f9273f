"""Observability: request ids, structured JSON logs and Prometheus metrics (one registry per app)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """Formats log records as one JSON object per line, with the current request id."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the `fragility` and uvicorn logs to stderr as JSON lines at `level`; returns nothing."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("fragility", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our request log replaces it


class Metrics:
    """The Prometheus collectors of one app: requests, latency by route template, rows ingested."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("fragility_http_requests", "HTTP requests by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("fragility_http_request_seconds", "HTTP request latency by route template",
                                 ["method", "route"], registry=self.registry)
        self.rows = Counter("fragility_observation_rows", "Observation rows ingested, by outcome",
                            ["outcome"], registry=self.registry)

    def count_rows(self, inserted: int, updated: int, unchanged: int) -> None:
        """Add one batch's counts to the rows-ingested counter; returns nothing."""
        self.rows.labels("inserted").inc(inserted)
        self.rows.labels("updated").inc(updated)
        self.rows.labels("unchanged").inc(unchanged)

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text format."""
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    """Return the matched route's path template (e.g. /v1/models/{name}/fit), or "unmatched"."""
    effective = scope.get("fastapi", {}).get("effective_route_context")  # FastAPI >= 0.16x nested routers
    template = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    return template or "unmatched"


class RequestContext:
    """ASGI middleware: assigns the request id (echoing a sane X-Request-ID), logs and measures each request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("fragility.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(seconds)
            principal = scope.get("state", {}).get("principal")
            self.log.info("request", extra={
                "method": scope["method"], "path": scope["path"], "route": route, "status": status,
                "ms": round(seconds * 1000, 2), "key": getattr(principal, "prefix", None)})
            REQUEST_ID.reset(token)

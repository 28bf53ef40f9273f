"""The service's HTTP answers to errors: every error, ours or the framework's or the database's, in the body
`{"error", "detail", "hint", "errors"?, "request_id"}` with the status of `service.errors.status_for`.

Pydantic request-validation errors are answered in the same shape, with `("body", "observations", 3, "value")`
read as row 3, field `value`; a body that is not JSON at all is a 400 saying where it stops being JSON.
"""

from __future__ import annotations

import logging
import re

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from indicators.errors import FragilityError, InputError
from service.errors import (
    DatabaseUnavailable,
    DatabaseUnresponsive,
    RateLimited,
    error_body,
    hint_for,
    row_errors_of,
    status_for,
)

log = logging.getLogger("fragility.errors")


def request_id_of(request: Request) -> str | None:
    """Return the request id set by the observability middleware, if any."""
    return request.scope.get("state", {}).get("request_id")


MAX_LISTED_ERRORS = 100
"""Row errors listed in one error answer at most; the detail says how many there were."""


def answer_fragility_error(request: Request, exc: FragilityError) -> JSONResponse:
    """Return the JSON answer for one of our errors, with the status found by MRO."""
    status = status_for(exc)
    errors = row_errors_of(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if status >= 500:
        log.error("request failed", extra={"error": type(exc).__name__, "detail": exc.message}, exc_info=exc)
    message = exc.message
    if errors and len(errors) > MAX_LISTED_ERRORS:  # a 422 body stays small whatever the batch
        message = f"{message} (the first {MAX_LISTED_ERRORS} of {len(errors)} errors are listed)"
        errors = errors[:MAX_LISTED_ERRORS]
    body = error_body(type(exc).__name__, message, hint_for(exc), request_id_of(request), errors)
    return JSONResponse(body, status_code=status, headers=headers)


UNION_TAG = re.compile(r"^([A-Z]\w*|int|str|bool|float|none|function-.*|.*\[.*)$")
"""A pydantic union member's tag in an error location (`SamplerIn`, `list[str]`, `none`): not a field name
(ours are snake_case)."""


def row_error_from_loc(loc: tuple | list, message: str) -> dict:
    """Return `{"row","field","reason"}` for a pydantic error location such as ("body","observations",3,"value")
    (union members' tags left out: ("body","sampler","SamplerIn","seed") is field `sampler.seed`)."""
    parts = [p for p in loc if p != "body" and not (isinstance(p, str) and UNION_TAG.match(p))]
    row = next((p for p in parts if isinstance(p, int)), None)
    if row is not None:
        after = [p for p in parts[parts.index(row) + 1:] if isinstance(p, str)]
        field = after[0] if after else str(parts[0])  # union members (value.float, value.str) fold into value
    else:
        field = ".".join(str(p) for p in parts) or "body"
    return {"row": row, "field": field, "reason": message}


READ_ONLY_POSTS = ("/probability", "/spillover")
"""POST routes that only read (a question in the body); their errors do not say "nothing was stored"."""


def is_write(request: Request) -> bool:
    """Return whether the request would store something (not a GET/HEAD, not a question posted to a model)."""
    return request.method not in ("GET", "HEAD", "OPTIONS") and not request.url.path.endswith(READ_ONLY_POSTS)


def answer_malformed_json(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """Return a 400 saying where the body stops being JSON (the parser's message, line, column and character),
    or None when `exc` is not a JSON decoding error."""
    raw = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if raw is None:
        return None
    position = raw["loc"][-1] if isinstance(raw["loc"][-1], int) else 0
    document = exc.body if isinstance(exc.body, str) else ""
    line = document.count("\n", 0, position) + 1
    column = position - document.rfind("\n", 0, position)
    reason = (raw.get("ctx") or {}).get("error", "invalid JSON")
    detail = f"request body is not valid JSON: {reason} at line {line}, column {column} (character {position})"
    body = error_body("MalformedJSON", detail + ("; nothing was stored" if is_write(request) else ""),
                      "Fix the JSON at that position (check quotes, commas and brackets) and resend.",
                      request_id_of(request))
    return JSONResponse(body, status_code=400)


def answer_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Return a 422 listing every invalid field of the request, in the service's error shape (a 400 for a body
    that is not JSON at all: see `answer_malformed_json`)."""
    malformed = answer_malformed_json(request, exc)
    if malformed is not None:
        return malformed
    merged: dict[tuple, dict] = {}
    raws = exc.errors()
    if any(raw.get("type") != "none_required" for raw in raws):  # "should be None": a patch field's absent default
        raws = [raw for raw in raws if raw.get("type") != "none_required"]
    for raw in raws:
        error = row_error_from_loc(tuple(raw.get("loc", ())), raw.get("msg", "invalid"))
        known = merged.setdefault((error["row"], error["field"]), error)
        if known is not error and error["reason"] not in known["reason"]:
            known["reason"] += f"; or {error['reason']}"
    errors = list(merged.values())
    detail = f"request rejected: {len(errors)} invalid field(s)" + ("; nothing was stored" if is_write(request) else "")
    body = error_body("RequestInvalid", detail, "Fix every listed field and resend the request.",
                      request_id_of(request), errors)
    return JSONResponse(body, status_code=422)


def answer_http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Return Starlette's HTTP errors (404 route, 405 method, 400 bad JSON) in the service's error shape."""
    names = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}
    hints = {404: "See /docs for the list of endpoints.", 405: "See /docs for the methods each path accepts."}
    body = error_body(names.get(exc.status_code, "HTTPError"), str(exc.detail),
                      hints.get(exc.status_code, "Check the request against /docs."), request_id_of(request))
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse(body, status_code=exc.status_code, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Return every method the OpenAPI schema lists at the request's path (Starlette's 405 names only one)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in operations if m.lower() in HTTP_METHODS}
    return sorted(methods)


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def answer_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    """Return 503 when the database cannot be reached, 422 for a value it cannot hold, else 500 (error shape)."""
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        unresponsive = isinstance(exc.orig, DatabaseUnresponsive)
        detail = str(exc.orig) if unresponsive else f"database error: {type(exc.orig).__name__}"
        return answer_fragility_error(request, DatabaseUnavailable(detail))
    if isinstance(exc, DataError):  # a value the database cannot hold: NUL bytes, too long for its column
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
        return answer_fragility_error(request, InputError(
            f"the database cannot store a value of this request: {reason}; nothing was stored",
            hint="Remove NUL (0x00) characters and shorten long texts, then resend."))
    log.error("database error", exc_info=exc)
    body = error_body("DatabaseError", "the database refused the operation", "Retry; if it persists, report it "
                      "with the request id.", request_id_of(request))
    return JSONResponse(body, status_code=500)


def answer_driver_connection_error(request: Request, exc: Exception) -> JSONResponse:
    """Return 503 for a connection lost inside raw psycopg work (the PostgreSQL COPY path), which SQLAlchemy
    does not wrap."""
    return answer_fragility_error(request, DatabaseUnavailable(f"database error: {type(exc).__name__}"))


def answer_pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
    """Return 503 with Retry-After when no database connection came free in time (the service is overloaded)."""
    response = answer_fragility_error(request, DatabaseUnavailable(
        "no database connection came free in time: the service is overloaded; nothing was done",
        hint="Retry after the number of seconds in Retry-After, or send fewer requests at once."))
    response.headers["Retry-After"] = "5"
    return response


def answer_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Return a 500 for an unexpected error, logged with its traceback, in the service's error shape.

    The answer says `Connection: close`: Starlette re-raises the error after sending it and the server then
    closes the connection, so a keep-alive client must not send its next request on it.
    """
    log.error("unexpected error", exc_info=exc)
    body = error_body(type(exc).__name__, "internal error", "Retry; if it persists, report it with the request id.",
                      request_id_of(request))
    return JSONResponse(body, status_code=500, headers={"Connection": "close"})


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the service's JSON shape; returns nothing."""
    app.add_exception_handler(FragilityError, answer_fragility_error)
    app.add_exception_handler(RequestValidationError, answer_validation_error)
    app.add_exception_handler(StarletteHTTPException, answer_http_exception)
    app.add_exception_handler(DBAPIError, answer_database_error)
    app.add_exception_handler(psycopg.OperationalError, answer_driver_connection_error)
    app.add_exception_handler(psycopg.InterfaceError, answer_driver_connection_error)
    app.add_exception_handler(PoolTimeout, answer_pool_timeout)
    app.add_exception_handler(Exception, answer_unexpected)

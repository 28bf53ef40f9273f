"""Service errors and their HTTP answers: the one drawing of the error tree, the status map and the hints.

Every error answer has the body `{"error", "detail", "hint", "errors"?, "request_id"}`. The status is
found by walking the exception's MRO and taking the most specific class listed in `STATUS_BY_CLASS`
(httpx's rule); anything unlisted is a 500. The hint is the one given to the error when it was raised,
else the most specific of `HINT_BY_CLASS` (the service's words, with routes, for domain errors) and the
classes' own `.hint`; a row error whose `problem` is in `ROW_REMEDY_BY_PROBLEM` gets that remedy
appended to its reason. Pydantic request-validation errors are answered in the same shape, with
`("body", "observations", 3, "value")` read as row 3, field `value`.

FragilityError (indicators.errors)          500 unless a branch below says otherwise
├── InputError 422 (indicators.errors)      the caller can fix it
│   ├── BatchRejected                       `.errors` lists every bad row
│   ├── BatchTooLarge, RegionError, PeriodError
│   ├── UnknownRegion, UnknownIndicator     hints with routes added here
│   └── SpecError (models.errors)           the model cannot do what was asked
├── ModelError 500 (models.errors) ── NotFitted, PosteriorMismatch, SamplingFailed
├── ArtifactBroken 500 ── ArtifactCorrupt, ArtifactMissing
├── NotFound 404 ── ModelNotFound, VersionNotFound, JobNotFound, BacktestNotFound
├── Conflict 409 ── ModelExists, NoServedVersion, VersionBroken, VersionNotServable, JobFinished
├── AccessDenied 403 ── Unauthenticated 401
├── PayloadTooLarge 413
├── RequestTimeout 408                      the body did not arrive in time
├── RateLimited 429 (+ Retry-After)
│   ├── QueueFull                           the key has FRAGILITY_MAX_QUEUED_JOBS_PER_KEY jobs queued
│   └── TooManyRequestsInFlight             per client address
└── DatabaseUnavailable 503
"""

from __future__ import annotations

import logging
import math
import re

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from indicators.errors import FragilityError, InputError, RowError, UnknownIndicator, UnknownRegion

log = logging.getLogger("fragility.errors")


class NotFound(FragilityError):
    """Not found."""

    hint = "Check the identifier; list what exists with the matching GET endpoint."


class Conflict(FragilityError):
    """The request conflicts with the current state."""

    hint = "Read the current state, then retry with a request that fits it."


class AccessDenied(FragilityError):
    """This API key's scope does not allow this request."""

    hint = "Use a key with a wider scope (read < write < admin): `fragility keys create --scope S`."


class Unauthenticated(AccessDenied):
    """A valid API key is required."""

    hint = "Send `Authorization: Bearer KEY`; create a key with `fragility keys create --scope read|write|admin`."


class PayloadTooLarge(FragilityError):
    """The request body is too large."""

    hint = "Split the data into smaller requests (see FRAGILITY_MAX_BODY_BYTES)."


class RequestTimeout(FragilityError):
    """The request body did not arrive in time."""

    hint = "Send the whole body promptly (see FRAGILITY_BODY_TIMEOUT_SECONDS), or split it into smaller requests."


class RateLimited(FragilityError):
    """Too many requests."""

    hint = "Wait for the number of seconds in the Retry-After header, then retry."

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = max(1, math.ceil(retry_after))


class TooManyRequestsInFlight(RateLimited):
    """This client address has too many requests in progress at once."""

    hint = "Wait for your requests in progress to finish before sending more (FRAGILITY_MAX_REQUESTS_PER_CLIENT)."


class DatabaseUnavailable(FragilityError):
    """The database is unreachable."""

    hint = "Check FRAGILITY_DATABASE_URL and that the database server is running, then retry."


STATUS_BY_CLASS: dict[type[BaseException], int] = {
    InputError: 422,
    NotFound: 404,
    Conflict: 409,
    AccessDenied: 403,
    Unauthenticated: 401,
    PayloadTooLarge: 413,
    RequestTimeout: 408,
    RateLimited: 429,
    DatabaseUnavailable: 503,
}


def register_status(cls: type[BaseException], status: int) -> None:
    """Map `cls` (and its subclasses, unless more specific) to `status`; returns nothing."""
    STATUS_BY_CLASS[cls] = status


def status_for(exc: BaseException) -> int:
    """Return the HTTP status of the most specific class of `exc`'s MRO in the map, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 500


HINT_BY_CLASS: dict[type[BaseException], str] = {
    UnknownRegion: "List regions with GET /v1/regions or add it with POST /v1/regions.",
    UnknownIndicator: "Add it with POST /v1/indicators first.",
}
"""The service's hint for errors of a class (and its subclasses), in place of the class's own `.hint`."""

ROW_REMEDY_BY_PROBLEM: dict[type[BaseException], str] = {
    UnknownRegion: "add it with POST /v1/regions first",
    UnknownIndicator: "add it with POST /v1/indicators first",
}
"""What the service tells a caller to do about a bad row, by the row error's `problem` class."""


def hint_for_class(cls: type[BaseException]) -> str:
    """Return the service's hint for errors of `cls`: the most specific of HINT_BY_CLASS and the classes' `.hint`."""
    for klass in cls.__mro__:
        if klass in HINT_BY_CLASS:
            return HINT_BY_CLASS[klass]
        if "hint" in vars(klass):
            return klass.hint
    return ""


def hint_for(exc: BaseException) -> str:
    """Return the hint to show for `exc`: the one it was raised with, else `hint_for_class` of its class."""
    if "hint" in vars(exc):
        return exc.hint
    return hint_for_class(type(exc))


def row_errors_of(exc: BaseException) -> list[dict] | None:
    """Return `exc`'s row errors as JSON-ready dicts (reasons with the service's remedy appended), or None."""
    errors = []
    for error in getattr(exc, "errors", []):
        if not isinstance(error, RowError):
            errors.append(dict(error))
            continue
        row = error.to_dict()
        if error.problem in ROW_REMEDY_BY_PROBLEM:
            row["reason"] = f"{row['reason']}: {ROW_REMEDY_BY_PROBLEM[error.problem]}"
        errors.append(row)
    return errors or None


def request_id_of(request: Request) -> str | None:
    """Return the request id set by the observability middleware, if any."""
    return request.scope.get("state", {}).get("request_id")


def error_body(
    error: str, detail: str, hint: str, request_id: str | None, errors: list[dict] | None = None
) -> dict:
    """Return the JSON error body of the service."""
    body: dict = {"error": error, "detail": detail, "hint": hint}
    if errors is not None:
        body["errors"] = errors
    body["request_id"] = request_id
    return body


def answer_fragility_error(request: Request, exc: FragilityError) -> JSONResponse:
    """Return the JSON answer for one of our errors, with the status found by MRO."""
    status = status_for(exc)
    errors = row_errors_of(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if status >= 500:
        log.error("request failed", extra={"error": type(exc).__name__, "detail": exc.message}, exc_info=exc)
    body = error_body(type(exc).__name__, exc.message, hint_for(exc), request_id_of(request), errors)
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


class ModelNotFound(NotFound):
    """No model has this name."""

    hint = "List models with GET /v1/models or create one with POST /v1/models."


class ModelExists(Conflict):
    """A model with this name already exists."""

    hint = "Change it with PUT or PATCH /v1/models/{name}, or pick another name."


class VersionNotFound(NotFound):
    """The model has no version with this number."""

    hint = "List versions with GET /v1/models/{name}/versions."


class NoServedVersion(Conflict):
    """The model has no promoted version to serve yet."""

    hint = "Fit it with POST /v1/models/{name}/fit and wait for a version that passes the gate."


class VersionBroken(Conflict):
    """This version's artifacts are missing or corrupt; it cannot be served."""

    hint = "Ask without `version` to get the served version, or refit the model."


class VersionNotServable(Conflict):
    """This version did not pass the gate, so no forecast paths were stored for it."""

    hint = "Ask without `version` to get the served version, or pick a promoted version."


class JobNotFound(NotFound):
    """No job has this id."""

    hint = "Use the job_id returned when the job was queued."


class BacktestNotFound(NotFound):
    """No backtest job has this id."""

    hint = "Use the job_id returned by POST /v1/models/{name}/backtests."


class JobFinished(Conflict):
    """The job has already ended."""

    hint = "Only queued or running jobs can be cancelled."


class ArtifactBroken(FragilityError):
    """A stored artifact of this version cannot be used."""

    hint = "Refit the model (POST /v1/models/{name}/fit); the previous good version keeps serving."


class ArtifactMissing(ArtifactBroken):
    """An artifact file of this version is missing."""


class ArtifactCorrupt(ArtifactBroken):
    """An artifact file of this version does not match its recorded sha256 checksum."""


class DatabaseUnresponsive(psycopg.OperationalError):
    """The server did not answer in time and the connection was dropped (raised by the guard in `service.db.guard`)."""


class QueueFull(RateLimited):
    """This API key already has as many jobs queued as allowed."""

    hint = ("Wait until some of the key's queued jobs start (GET /v1/jobs?status=queued), or cancel one "
            "(POST /v1/jobs/{id}/cancel), then retry.")

"""Service errors: the one drawing of the error tree, the status map and the hints.

Every error answer has the body `{"error", "detail", "hint", "errors"?, "request_id"}`. The status is
found by walking the exception's MRO and taking the most specific class listed in `STATUS_BY_CLASS`
(httpx's rule); anything unlisted is a 500. The hint is the one given to the error when it was raised,
else the most specific of `HINT_BY_CLASS` (the service's words, with routes, for domain errors) and the
classes' own `.hint`; a row error whose `problem` is in `ROW_REMEDY_BY_PROBLEM` gets that remedy
appended to its reason. The HTTP answers themselves are `service.api.error_answers`.

FragilityError (indicators.errors)          500 unless a branch below says otherwise
├── InputError 422 (indicators.errors)      the caller can fix it
│   ├── BatchRejected                       `.errors` lists every bad row
│   ├── BatchTooLarge, RegionError, PeriodError
│   ├── UnknownRegion, UnknownIndicator     hints with routes added here
│   ├── FitTooLarge (service.crud.models)   a model's fit over FRAGILITY_MAX_MODEL_REGIONS / _POSTERIOR_VALUES
│   ├── BadOptions (service.crud.models)    options its family refuses, `.errors` naming options.<name>
│   ├── CursorInvalid (service.api.pagination)  a list's cursor it never gave
│   └── SpecError (models.core.errors)      the model cannot do what was asked
├── ModelError 500 (models.core.errors) ── NotFitted, PosteriorMismatch, SamplingFailed
├── ArtifactBroken 500 ── ArtifactCorrupt, ArtifactMissing
├── NotFound 404 ── ModelNotFound, VersionNotFound, JobNotFound, BacktestNotFound
├── Conflict 409 ── ModelExists, NoServedVersion, VersionBroken, VersionNotServable, JobFinished, TooManyModels
├── AccessDenied 403 ── Unauthenticated 401, NotOwner (service.api.ownership: another key's model or job)
├── PayloadTooLarge 413
├── RequestTimeout 408                      the body did not arrive in time
├── RateLimited 429 (+ Retry-After)
│   ├── QueueFull                           the key has FRAGILITY_MAX_QUEUED_JOBS_PER_KEY jobs queued
│   ├── TooManyRequestsInFlight             per client address
│   ├── QuestionsBusy                       expensive questions: per caller or server-wide cap reached
│   └── ExportsBusy                         paths exports: FRAGILITY_MAX_CONCURRENT_EXPORTS in progress
└── DatabaseUnavailable 503
"""

from __future__ import annotations

import math

import psycopg

from indicators.errors import FragilityError, InputError, RowError, UnknownIndicator, UnknownRegion


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


def listed(ids: list[str], most: int = 20) -> str:
    """Return `ids` comma-separated, at most `most` of them, then how many more (a 422 body stays small)."""
    shown = ", ".join(str(i) for i in ids[:most])
    return shown if len(ids) <= most else f"{shown} and {len(ids) - most} more ({len(ids)} in all)"


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



def error_body(
    error: str, detail: str, hint: str, request_id: str | None, errors: list[dict] | None = None
) -> dict:
    """Return the JSON error body of the service."""
    body: dict = {"error": error, "detail": detail, "hint": hint}
    if errors is not None:
        body["errors"] = errors
    body["request_id"] = request_id
    return body


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


class TooManyModels(Conflict):
    """This API key already owns as many models as allowed."""

    hint = "Change one of the key's models (PUT/PATCH /v1/models/{name}) instead, or use another key."


class QuestionsBusy(RateLimited):
    """The caller (or the whole server) already has as many expensive questions computing or waiting as allowed."""

    hint = ("Wait for the number of seconds in Retry-After, or for your questions in progress to be answered, "
            "then retry; answers already computed come back at once.")


class ExportsBusy(RateLimited):
    """The server already sends as many paths exports at once as allowed."""

    hint = ("Wait for the number of seconds in Retry-After, then retry; an export asked before is served from "
            "its stored file (FRAGILITY_MAX_CONCURRENT_EXPORTS caps the exports in progress).")


class QueueFull(RateLimited):
    """This API key already has as many jobs queued as allowed."""

    hint = ("Wait until some of the key's queued jobs start (GET /v1/jobs?status=queued), or cancel one "
            "(POST /v1/jobs/{id}/cancel), then retry.")

"""The error answers of the OpenAPI schema: every operation lists each error status it can return, with
the service's error body (`ErrorOut`), found by the same rules the service answers by.

- every operation: 429 (requests in progress per client address, and the rate limit of keyed routes);
- an operation that needs a key: 401 (no or unknown key) and 403 (scope too narrow);
- an operation with parameters or a body: 422 (invalid input);
- an operation with a body: 400 (not JSON / UTF-8), 408 (body too slow), 413 (body too large);
- an operation under /v1 with a path parameter: 404 (no such model, version, job); under /v1: 503 (database);
- 409 where a route says so (`responses=error_responses(409)`).

FastAPI's own 422 shape (`HTTPValidationError`, which the handlers never send) is replaced by `ErrorOut`.
"""

from __future__ import annotations

from fastapi import FastAPI

from service.schemas.data import ERROR_STATUS_TEXT

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
BODY_METHODS = {"post", "put", "patch"}


def error_statuses(path: str, method: str, operation: dict) -> set[int]:
    """Return the error statuses the service can answer `method path` with, by the rules of the module."""
    statuses = {429}
    if operation.get("security"):
        statuses |= {401, 403}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if method in BODY_METHODS:
        statuses |= {400, 408, 413}
    if path.startswith("/v1/"):
        statuses.add(503)
        if "{" in path:
            statuses.add(404)
    return statuses


def with_error_answers(schema: dict) -> dict:
    """Return the OpenAPI `schema` with every operation's error answers added (see the module)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "HTTPValidationError" in components:
        components["HTTPValidationError"] = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            answers = operation["responses"]
            for status in sorted(error_statuses(path, method, operation)):
                answers.setdefault(str(status), {"description": ERROR_STATUS_TEXT[status], "content": ERROR_BODY})
                answers[str(status)]["content"] = ERROR_BODY
    return schema


def document_error_answers(app: FastAPI) -> None:
    """Make the app's OpenAPI schema list every operation's error answers with their body; returns nothing."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = with_error_answers(build())
        return app.openapi_schema

    app.openapi = openapi

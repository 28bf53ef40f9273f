"""Routes that decide who the caller is before reading its body, then read the body within bounds.

FastAPI reads and parses a body before it solves the dependencies that check the API key, so an
anonymous 10 MB body would be parsed before its 401. `GuardedRoute` answers a POST, PUT or PATCH in
this order: the key from the `Authorization` header (401/403/429, the body never read), then the body,
which must arrive within `body_timeout_seconds` (408) and stay under `max_body_bytes` (413), then
the route as usual (with the Unicode check of service.api.text_route). Early answers close the
connection, since the rest of the body is left unread. Query parameters the route does not take are
refused (422 naming them) on every method of the operations in the OpenAPI schema, rather than ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from indicators.errors import FragilityError
from service.api.authentication import authenticate
from service.api.error_answers import answer_fragility_error
from service.api.text_route import BODY_METHODS, TextCheckedRoute
from service.auth import Principal, bearer_token
from service.crud.keys import find_active_key
from service.errors import PayloadTooLarge, RequestTimeout


class BoundedRequest(Request):
    """A request whose body is read once, up to a size and within a time (FastAPI's custom-Request pattern)."""

    async def read_bounded(self, max_bytes: int, seconds: float) -> bytes:
        """Return the whole body; raises PayloadTooLarge past `max_bytes`, RequestTimeout after `seconds`."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(seconds):
                async for chunk in self.stream():
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes; the limit is {max_bytes} "
                                              "bytes (FRAGILITY_MAX_BODY_BYTES)")
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeout(f"the request body did not arrive within {seconds:g} s "
                                 f"({size} bytes received)") from None
        self._body = b"".join(chunks)
        return self._body


def needed_scope(route: TextCheckedRoute) -> str | None:
    """Return the scope ("read", "write", "admin") the route's key dependency needs, or None if it needs none."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        need = getattr(dependency.call, "scope_needed", None)
        if need is not None:
            return need
        pending.extend(dependency.dependencies)
    return None


def query_names(route: TextCheckedRoute) -> set[str]:
    """Return the names of the query parameters the route (or any of its dependencies) takes."""
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names |= {param.alias for param in dependant.query_params}
        pending.extend(dependant.dependencies)
    return names


async def authenticate_from_headers(request: Request, need: str) -> Principal:
    """Return the caller's principal from the Authorization header alone (401/403/429 as FragilityErrors)."""
    secret = bearer_token(request.headers.get("authorization"))
    if secret is None:
        return authenticate(request, None, lambda _: None, need)

    def from_database() -> Principal:
        with request.app.state.db.session() as session:
            return authenticate(request, secret, lambda s: find_active_key(session=session, secret=s), need)

    return await run_in_threadpool(from_database)


class GuardedRoute(TextCheckedRoute):
    """An APIRoute that authenticates a body-carrying request before reading its body (see module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Return the route's handler preceded by authentication and the bounded body read."""
        handle = super().get_route_handler()
        need = needed_scope(self)
        # only operations of the API contract (in the OpenAPI schema) refuse what they do not list: the page
        # at / is opened with ?region=... that its script reads
        known_query = query_names(self) if self.include_in_schema else None

        async def guarded(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - known_query) if known_query is not None else []
            if unknown:
                raise RequestValidationError([
                    {"type": "extra_forbidden", "loc": ("query", name), "input": request.query_params[name],
                     "msg": f"unknown query parameter; this route takes {', '.join(sorted(known_query)) or 'none'}"}
                    for name in unknown])
            if request.method not in BODY_METHODS:
                return await handle(request)
            request = BoundedRequest(request.scope, request.receive)
            settings = request.app.state.settings
            try:
                if need is not None:
                    await authenticate_from_headers(request, need)
                await request.read_bounded(settings.max_body_bytes, settings.body_timeout_seconds)
            except FragilityError as exc:
                response = answer_fragility_error(request, exc)
                response.headers["Connection"] = "close"
                return response
            except ClientDisconnect:  # nobody is left to answer
                return Response(status_code=400, headers={"Connection": "close"})
            return await handle(request)

        return guarded

"""FastAPI dependencies as `Annotated` aliases: SessionDep, SettingsDep, ReadKey, WriteKey, AdminKey,
ReadKeyInThread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service.api.authentication import KeyToCheck, authenticate, stashed_principal
from service.api.session_route import release
from service.auth import Principal
from service.crud.keys import find_active_key
from service.db.engine import Database, end_quietly
from service.observability import Metrics
from service.settings import Settings

bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer KEY`")


def get_settings_of_app(request: Request) -> Settings:
    """Return the settings the app was created with."""
    return request.app.state.settings


def get_database(request: Request) -> Database:
    """Return the app's database (engine and session factory)."""
    return request.app.state.db


def get_metrics(request: Request) -> Metrics:
    """Return the app's Prometheus collectors."""
    return request.app.state.metrics


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield a session for this request; rolled back on error, closed after the response.

    `async` on purpose: making a session does not touch the database, and neither does ending one that
    holds no connection (never used, or already released by its route), so a request answered from memory
    (a cached forecast) costs no threadpool hop for its session. Ending one that does hold a connection runs
    in the threadpool, shielded from cancellation so that the connection always goes back to the pool.
    """
    session = request.app.state.db.sessions()
    try:
        yield session
    except BaseException:
        await end_session(session, session.rollback)
        raise
    finally:
        await end_session(session, session.close)


async def end_session(session: Session, end: Callable[[], None]) -> None:
    """Run the session's rollback or close (see end_quietly), in the threadpool only if it holds a
    transaction (ending that talks to the database); returns nothing."""
    if not session.in_transaction():
        end_quietly(end)
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(end_quietly, end)


SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]
DatabaseDep = Annotated[Database, Depends(get_database)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def require_scope(need: str, in_endpoint_thread: bool = False) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Return a dependency that gives the caller's Principal if its key allows scope `need`
    (see service.api.authentication.authenticate: 401, 403, 429). A route that authenticated the request
    before reading its body (service.api.guarded_route) has the principal already; it is returned as is.

    Only a key's lookup (a database read) runs in the threadpool; the stashed principal and an anonymous
    caller are answered on the event loop, without a thread hop. With `in_endpoint_thread` the lookup is left
    to the endpoint's own thread (a KeyToCheck, checked there by service.api.session_route before the endpoint
    runs, with its session): one thread hop and one connection per request instead of two.
    """

    async def check(request: Request, credentials: Credentials, session: SessionDep) -> Principal:
        early = stashed_principal(request)
        if early is not None:
            return early
        if credentials is None:
            return authenticate(request, None, lambda _: None, need)
        if in_endpoint_thread and getattr(request.scope.get("route"), "checks_key_in_endpoint_thread", False):
            # only a route that checks it there (service.api.session_route.SessionRoute) gets the key unchecked
            return KeyToCheck(request, credentials.credentials, need)  # type: ignore[return-value]

        def find_key(secret: str):
            key = find_active_key(session=session, secret=secret)
            release(session)  # no connection held while the request queues for its next threadpool hop
            return key

        return await run_in_threadpool(authenticate, request, credentials.credentials, find_key, need)

    check.__name__ = f"require_{need}"
    check.scope_needed = need
    check.in_endpoint_thread = in_endpoint_thread
    return check


ReadKey = Annotated[Principal, Depends(require_scope("read"))]
WriteKey = Annotated[Principal, Depends(require_scope("write"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
ReadKeyInThread = Annotated[Principal, Depends(require_scope("read", in_endpoint_thread=True))]
"""ReadKey checked in the endpoint's own thread, for cheap sync reads of a SessionRoute (GET /v1/models, the other
lists): a request refused before its endpoint ran (a 422 query parameter) has its key checked first by the route."""

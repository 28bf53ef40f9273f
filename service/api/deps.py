"""FastAPI dependencies as `Annotated` aliases: SessionDep, SettingsDep, ReadKey, WriteKey, AdminKey."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.api.authentication import authenticate, stashed_principal
from service.api.session_route import release
from service.auth import Principal
from service.crud.keys import find_active_key
from service.db.engine import Database
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


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session for this request; rolled back on error, closed after the response."""
    with request.app.state.db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_of_app)]
DatabaseDep = Annotated[Database, Depends(get_database)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


def require_scope(need: str) -> Callable[..., Principal]:
    """Return a dependency that gives the caller's Principal if its key allows scope `need`
    (see service.api.authentication.authenticate: 401, 403, 429). A route that authenticated the request
    before reading its body (service.api.guarded_route) has the principal already; it is returned as is."""

    def check(request: Request, credentials: Credentials, session: SessionDep) -> Principal:
        early = stashed_principal(request)
        if early is not None:
            return early

        def find_key(secret: str):
            key = find_active_key(session=session, secret=secret)
            release(session)  # no connection held while the request queues for its next threadpool hop
            return key

        return authenticate(request, credentials.credentials if credentials else None, find_key, need)

    check.__name__ = f"require_{need}"
    check.scope_needed = need
    return check


ReadKey = Annotated[Principal, Depends(require_scope("read"))]
WriteKey = Annotated[Principal, Depends(require_scope("write"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]

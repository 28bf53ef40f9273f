"""FastAPI dependencies as `Annotated` aliases: SessionDep, SettingsDep, ReadKey, WriteKey, AdminKey."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.api.session_route import release
from service.auth import ANONYMOUS_READER, Principal, scope_allows
from service.crud.keys import find_active_key
from service.db.engine import Database
from service.errors import AccessDenied, Unauthenticated
from service.limits import RateLimiter
from service.observability import Metrics
from service.settings import Settings

log = logging.getLogger("fragility.auth")
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


def client_identity(request: Request) -> str:
    """Return the rate-limit identity of an anonymous caller: its IP address."""
    return f"ip:{request.client.host if request.client else 'unknown'}"


def require_scope(need: str) -> Callable[..., Principal]:
    """Return a dependency that gives the caller's Principal if its key allows scope `need`.

    Missing or invalid key -> Unauthenticated (401); too narrow a scope -> AccessDenied (403); both are
    logged without the key. Reads need no key when settings.public_read. Every caller is rate limited
    (per key, or per IP when anonymous) -> RateLimited (429).
    """

    def check(request: Request, credentials: Credentials, session: SessionDep, settings: SettingsDep) -> Principal:
        limiter: RateLimiter = request.app.state.limiter
        if credentials is None:
            if need == "read" and settings.public_read:
                limiter.check(client_identity(request))
                request.state.principal = ANONYMOUS_READER
                return ANONYMOUS_READER
            limiter.check(client_identity(request))
            log.warning("refused: no API key", extra={"path": request.url.path, "need": need})
            raise Unauthenticated(f"this request needs an API key with scope {need!r}")
        key = find_active_key(session=session, secret=credentials.credentials)
        release(session)  # no connection held while the request queues for its next threadpool hop
        if key is None:
            limiter.check(client_identity(request))
            log.warning("refused: unknown or revoked API key", extra={"path": request.url.path, "need": need})
            raise Unauthenticated("the API key is unknown or revoked",
                                  hint="Check the key; create a new one with `fragility keys create --scope S`.")
        principal = Principal(key_id=key.id, prefix=key.prefix, scope=key.scope)
        request.state.principal = principal
        limiter.check(f"key:{key.id}")
        if not scope_allows(key.scope, need):
            log.warning("refused: scope too narrow", extra={"path": request.url.path, "need": need,
                                                             "key": key.prefix, "scope": key.scope})
            raise AccessDenied(f"this request needs scope {need!r}; the key {key.prefix}... has {key.scope!r}")
        return principal

    check.__name__ = f"require_{need}"
    return check


ReadKey = Annotated[Principal, Depends(require_scope("read"))]
WriteKey = Annotated[Principal, Depends(require_scope("write"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]

"""Who a request acts as, decided from its headers alone: the key's principal, or a 401/403/429 error.

Shared by the `ReadKey`/`WriteKey`/`AdminKey` dependencies (service.api.deps) and by routes that
authenticate before reading a request body (service.api.guarded_route).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Request

from service.auth import ANONYMOUS_READER, Principal, scope_allows
from service.errors import AccessDenied, Unauthenticated
from service.limits import RateLimiter

log = logging.getLogger("fragility.auth")
STATE_KEY = "principal"


def client_identity(request: Request) -> str:
    """Return the rate-limit identity of an anonymous caller: its IP address."""
    return f"ip:{request.client.host if request.client else 'unknown'}"


def authenticate(request: Request, secret: str | None, find_key: Callable[[str], object | None],
                 need: str) -> Principal:
    """Return the Principal of a request whose bearer token is `secret` (None: no key) if it may use scope `need`.

    `find_key(secret)` returns the active stored key (id, prefix, scope) or None. Missing or invalid key ->
    Unauthenticated (401); too narrow a scope -> AccessDenied (403); both are logged without the key. Reads
    need no key when settings.public_read. Every caller is rate limited (per key, or per IP when anonymous)
    -> RateLimited (429). The principal is kept in the request state (`stashed_principal`).
    """
    limiter: RateLimiter = request.app.state.limiter
    if secret is None:
        limiter.check(client_identity(request))
        if need == "read" and request.app.state.settings.public_read:
            request.state.principal = ANONYMOUS_READER
            return ANONYMOUS_READER
        log.warning("refused: no API key", extra={"path": request.url.path, "need": need})
        raise Unauthenticated(f"this request needs an API key with scope {need!r}")
    key = find_key(secret)
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


class KeyToCheck:
    """A request's API key whose look-up is left to the endpoint's own thread (see service.api.deps.ReadKeyInThread
    and service.api.session_route): checked there with the endpoint's session, before the endpoint runs, so a
    request makes one threadpool hop and checks out one database connection instead of two of each. The check is
    the same `authenticate` against the database on every request (a revoked key fails on its next request).
    It is kept in the request state: a request refused before its endpoint ran (422) has it checked first
    (service.api.session_route.SessionRoute), so that a caller without a valid key gets its 401 as with ReadKey."""

    def __init__(self, request: Request, secret: str, need: str) -> None:
        self.request, self.secret, self.need = request, secret, need
        self.checked = False
        request.state.key_to_check = self

    def check(self, find_key: Callable[[str], object | None]) -> Principal:
        """Return the principal (or raise 401/403/429 as `authenticate`), `find_key` reading the stored key."""
        self.checked = True
        return authenticate(self.request, self.secret, find_key, self.need)


def unchecked_key(request: Request) -> KeyToCheck | None:
    """Return the KeyToCheck of a request whose endpoint never checked it (refused before it ran), or None."""
    pending = request.scope.get("state", {}).get("key_to_check")
    return pending if isinstance(pending, KeyToCheck) and not pending.checked else None


def stashed_principal(request: Request) -> Principal | None:
    """Return the principal a route already authenticated this request as (before its body), or None."""
    return request.scope.get("state", {}).get(STATE_KEY)

"""Routes that give their database connection back as soon as their endpoint returns.

FastAPI runs a sync endpoint in one threadpool hop and validates its answer in another; a request's
session would keep its pooled connection (an open read transaction) while the request queues for that
second hop behind up to 40 others. Under load that starves the pool and ends in 503s (pool timeout),
although no thread is using the connection. `SessionRoute` closes the request session in the endpoint's
own thread instead: exactly what the session dependency does afterwards (uncommitted work is rolled back),
only earlier.

Cheap reads go further (issue 28: GET /v1/models beside an abusive client): their key (ReadKeyInThread) is
checked in the endpoint's thread with the endpoint's session, and `json_answer` encodes the answer there, so
such a request makes one threadpool hop and checks out one connection instead of three hops and two
connections, each hop and round trip a wait for the GIL and the event loop under load. The key is still read
from the database on every request; a request refused before its endpoint ran has it checked first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service.api.authentication import KeyToCheck, unchecked_key
from service.api.guarded_route import GuardedRoute
from service.auth import Principal
from service.crud.keys import find_active_key
from service.db.engine import end_quietly


def release(session: Session) -> None:
    """Commit the session's (read) transaction so its connection returns to the pool; returns nothing.

    Loaded objects stay usable (the sessions do not expire on commit); the next query checks a connection
    out again. Call it only where nothing uncommitted is pending that should be rolled back.
    """
    session.commit()


def json_answer(schema: type[BaseModel], data: Any, exclude_unset: bool = False) -> Response:
    """Return `data` validated as `schema` and encoded as JSON, in the calling (endpoint's) thread: FastAPI validates
    a sync endpoint's returned dict in one more threadpool hop, which a cheap read under load waits for. The body is
    the route's `response_model` answer (the same fields and values, by alias; `exclude_unset` as the route's
    response_model_exclude_unset)."""
    return Response(schema.model_validate(data).model_dump_json(by_alias=True, exclude_unset=exclude_unset),
                    media_type="application/json")


def check_key(key: KeyToCheck, session: Session) -> Principal:
    """Return the principal of a key left to the endpoint's thread (or raise 401/403/429), read with `session`."""
    return key.check(lambda secret: find_active_key(session=session, secret=secret))


def check_key_alone(key: KeyToCheck, request: Request) -> Principal:
    """Return the principal of a key whose endpoint never ran (or raise as `check_key`), with a session of its own."""
    with request.app.state.db.session() as session:
        return check_key(key, session)


def closes_session(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Return `endpoint` wrapped to close its `session` argument once it returns or raises; an API key left to
    this thread (a KeyToCheck argument, service.api.deps.ReadKeyInThread) is checked first, with that session.

    The endpoint of a route whose key is checked there is a read (`run.reads_only`, set by SessionRoute): its
    session reads in autocommit, each statement on its own as PostgreSQL's READ COMMITTED reads anyway, without
    the BEGIN and ROLLBACK round trips of a transaction."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            if run.reads_only:
                kwargs["session"].connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            for name, value in kwargs.items():
                if isinstance(value, KeyToCheck):
                    kwargs[name] = check_key(value, kwargs["session"])
            return endpoint(*args, **kwargs)
        finally:
            session = kwargs.get("session")
            if isinstance(session, Session):
                end_quietly(session.close)

    run.reads_only = False
    return run


class SessionRoute(GuardedRoute):
    """An APIRoute whose sync endpoints taking a `session` close it in their own thread (see module); it
    authenticates before reading a body and refuses JSON text that is not valid Unicode (GuardedRoute)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        wrapped = not inspect.iscoroutinefunction(endpoint) and "session" in inspect.signature(endpoint).parameters
        if wrapped:
            endpoint = closes_session(endpoint)
        super().__init__(path, endpoint, **kwargs)
        direct, nested = keys_checked_in_endpoint_thread(self.dependant)
        if nested or (direct and not wrapped):
            raise TypeError(f"{path}: a key checked in the endpoint's thread must be the own argument of a sync "
                            "endpoint taking `session`")
        self.checks_key_in_endpoint_thread = bool(direct)
        if direct:
            endpoint.reads_only = True  # a cheap read (ReadKeyInThread): see closes_session

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Return the route's handler; a request refused before its endpoint ran (a 422 field, a dependency's
        error) with its key left unchecked (KeyToCheck) has the key checked first: a caller without a valid key
        gets its 401/403/429, as when the key is checked before the rest."""
        handle = super().get_route_handler()

        async def key_first(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception:
                pending = unchecked_key(request)
                if pending is not None:  # no endpoint ran: the key is read with a session of its own
                    await run_in_threadpool(check_key_alone, pending, request)  # its refusal replaces the error
                raise

        return key_first


def keys_checked_in_endpoint_thread(dependant: Dependant) -> tuple[int, int]:
    """Return how many of the endpoint's own dependencies, and of their dependencies, leave the API key's check to
    the endpoint's thread (service.api.deps.ReadKeyInThread)."""
    direct = sum(bool(getattr(d.call, "in_endpoint_thread", False)) for d in dependant.dependencies)
    nested, pending = 0, [sub for d in dependant.dependencies for sub in d.dependencies]
    while pending:
        dependency = pending.pop()
        nested += bool(getattr(dependency.call, "in_endpoint_thread", False))
        pending.extend(dependency.dependencies)
    return direct, nested

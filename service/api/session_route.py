"""Routes that give their database connection back as soon as their endpoint returns.

FastAPI runs a sync endpoint in one threadpool hop and validates its answer in another; a request's
session would keep its pooled connection (an open read transaction) while the request queues for that
second hop behind up to 40 others. Under load that starves the pool and ends in 503s (pool timeout),
although no thread is using the connection. `SessionRoute` closes the request session in the endpoint's
own thread instead: exactly what the session dependency does afterwards (uncommitted work is rolled back),
only earlier.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from service.api.guarded_route import GuardedRoute
from service.db.engine import end_quietly


def release(session: Session) -> None:
    """Commit the session's (read) transaction so its connection returns to the pool; returns nothing.

    Loaded objects stay usable (the sessions do not expire on commit); the next query checks a connection
    out again. Call it only where nothing uncommitted is pending that should be rolled back.
    """
    session.commit()


def closes_session(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Return `endpoint` wrapped to close its `session` argument once it returns or raises."""

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return endpoint(*args, **kwargs)
        finally:
            session = kwargs.get("session")
            if isinstance(session, Session):
                end_quietly(session.close)

    return run


class SessionRoute(GuardedRoute):
    """An APIRoute whose sync endpoints taking a `session` close it in their own thread (see module); it
    authenticates before reading a body and refuses JSON text that is not valid Unicode (GuardedRoute)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint) and "session" in inspect.signature(endpoint).parameters:
            endpoint = closes_session(endpoint)
        super().__init__(path, endpoint, **kwargs)

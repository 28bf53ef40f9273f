"""Request limits: body size (413 before parsing, chunked bodies included) and per-key rate limits (429)."""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import PayloadTooLarge, RateLimited, error_body


class BodySizeLimit:
    """ASGI middleware refusing bodies over `max_bytes` with 413, before any route parses them.

    A declared Content-Length over the limit is refused at once; otherwise (chunked bodies) the
    body is read and counted up to the limit, then replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, f"request body is {int(declared)} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, f"request body exceeds {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        error = PayloadTooLarge(f"{what}; the limit is {self.max_bytes} bytes (FRAGILITY_MAX_BODY_BYTES)")
        request_id = scope.get("state", {}).get("request_id")
        response = JSONResponse(error_body(type(error).__name__, error.message, error.hint, request_id),
                                status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


class RateLimiter:
    """A moving-window rate limit per identity (API key id or client IP), e.g. "600/minute"."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.rate = rate
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, identity: str) -> None:
        """Return nothing when `identity` may make one more request now; count it.

        Raises RateLimited (with the seconds to wait) otherwise.
        """
        if self.limiter.hit(self.item, identity):
            return
        stats = self.limiter.get_window_stats(self.item, identity)
        raise RateLimited(f"rate limit {self.rate} exceeded for {identity.split(':')[0]}",
                          retry_after=stats.reset_time - time.time())

"""Request limits: declared body size (413 before anything), requests in progress per client address (429)
and per-key rate limits (429)."""

from __future__ import annotations

import time
from collections import Counter

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from indicators.errors import FragilityError
from service.errors import PayloadTooLarge, RateLimited, TooManyRequestsInFlight, error_body


class BodySizeLimit:
    """ASGI middleware refusing a declared Content-Length over `max_bytes` with 413, before anything else.

    Bodies without a declared length (chunked) are counted as they are read, after authentication,
    by the routes themselves (service.api.guarded_route), within the same limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            declared = dict(scope["headers"]).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                error = PayloadTooLarge(f"request body is {int(declared)} bytes; the limit is {self.max_bytes} "
                                        "bytes (FRAGILITY_MAX_BODY_BYTES)")
                await refuse(scope, receive, send, error, 413)
                return
        await self.app(scope, receive, send)


class ClientConcurrencyLimit:
    """ASGI middleware answering 429 to a client address that already has `max_requests` requests in progress
    (a request counts from its headers to its last byte of answer, so slow bodies count too)."""

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.in_flight: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        if self.in_flight[client] >= self.max_requests:
            error = TooManyRequestsInFlight(f"this address already has {self.in_flight[client]} requests in "
                                            f"progress; at most {self.max_requests} at once")
            await refuse(scope, receive, send, error, 429, {"Retry-After": "1"})
            return
        self.in_flight[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[client] -= 1
            if not self.in_flight[client]:
                del self.in_flight[client]


async def refuse(scope: Scope, receive: Receive, send: Send, error: FragilityError, status: int,
                 headers: dict[str, str] | None = None) -> None:
    """Send `error` as the service's error answer with `status`, closing the connection; returns nothing."""
    request_id = scope.get("state", {}).get("request_id")
    response = JSONResponse(error_body(type(error).__name__, error.message, error.hint, request_id),
                            status_code=status, headers={"Connection": "close", **(headers or {})})
    await response(scope, receive, send)


class InlineExpiryStorage(MemoryStorage):
    """limits' in-memory storage, dropping expired entries inline (at most once per EXPIRY_SECONDS) instead of
    from a timer thread.

    MemoryStorage starts a new 10 ms `threading.Timer` whenever the last one has fired, that is on nearly
    every hit under load; the hit runs on the event loop, which waits for the new thread to start (py-spy,
    bench/serving.py --profile: 22% of the server's Python time at 50 forecasts/s). Expiry only frees memory:
    the moving window's decision reads the entries' own timestamps.
    """

    EXPIRY_SECONDS = 1.0

    def __init__(self) -> None:
        self.next_expiry = 0.0
        super().__init__()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces MemoryStorage's private timer start
        now = time.monotonic()
        if now >= self.next_expiry:
            self.next_expiry = now + self.EXPIRY_SECONDS
            self._MemoryStorage__expire_events()


class RateLimiter:
    """A moving-window rate limit per identity (API key id or client IP), e.g. "600/minute"."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.rate = rate
        self.limiter = MovingWindowRateLimiter(InlineExpiryStorage())

    def check(self, identity: str) -> None:
        """Return nothing when `identity` may make one more request now; count it.

        Raises RateLimited (with the seconds to wait) otherwise.
        """
        if self.limiter.hit(self.item, identity):
            return
        stats = self.limiter.get_window_stats(self.item, identity)
        raise RateLimited(f"rate limit {self.rate} exceeded for {identity.split(':')[0]}",
                          retry_after=stats.reset_time - time.time())

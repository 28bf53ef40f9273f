"""What the HTTP server does about connections before a request exists (uvicorn 0.x has no header timeout: its
`timeout_keep_alive` only covers idle kept-alive connections, not a request whose line or headers never end):

- a header timeout: a connection must send a whole request line and headers within `header_timeout_seconds` of
  connecting (or of the first byte of its next request on a kept-alive connection); later it gets a 408 naming
  the problem and is closed, so slow-header clients no longer hold connections and open files for ever;
- a cap on the connections of one client address still waiting for their headers (the in-flight cap of
  service.limits counts requests from their headers on, so these were counted nowhere): one more is answered 429
  and closed at once;
- the open-file limit: the soft RLIMIT_NOFILE raised to the hard limit at start (often 1024 of 1048576), so
  the process reaches its connection caps before it runs out of file descriptors.

`header_timeout_protocol` returns uvicorn's httptools protocol class with the first two; `run_http` in
service.cli.data passes it as uvicorn's `http` and calls `raise_open_file_limit` first.
"""

from __future__ import annotations

import json
import logging
import resource
from collections import Counter

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.errors import error_body

log = logging.getLogger("fragility.connections")
FALLBACK_NOFILE = 1_048_576
"""The soft limit tried when the hard limit is unlimited (Linux refuses more than fs.nr_open, 1048576 by default)."""


def raise_open_file_limit() -> tuple[int, int]:
    """Return the (soft, hard) RLIMIT_NOFILE of this process after raising the soft limit to the hard one (left
    as it was, with a warning, where the system refuses)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = FALLBACK_NOFILE if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit", extra={"soft": soft, "hard": hard, "reason": str(exc)})
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def refusal(status: int, reason: str, error: str, detail: str, hint: str) -> bytes:
    """Return a whole HTTP/1.1 answer (`status` `reason`, the service's JSON error body, Connection: close)."""
    body = json.dumps(error_body(error, detail, hint, None)).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode()
    return head + body


def header_timeout_protocol(seconds: float, max_waiting_per_client: int) -> type[HeaderTimeoutProtocol]:
    """Return uvicorn's httptools protocol class closing (408) a connection whose request line and headers take
    longer than `seconds`, and refusing (429) a connection from an address that already has
    `max_waiting_per_client` connections waiting for their headers."""
    timeout = refusal(408, "Request Timeout", "RequestTimeout",
                      f"the request line and headers did not arrive within {seconds:g} s",
                      "Send the whole request line and headers at once (FRAGILITY_HEADER_TIMEOUT_SECONDS).")
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {
        "seconds": seconds, "max_waiting": max_waiting_per_client, "timeout_answer": timeout, "waiting": Counter()})


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a cap on waiting connections per address (the
    class attributes are set by `header_timeout_protocol`)."""

    seconds: float = 10.0
    max_waiting: int = 100
    timeout_answer: bytes = b""
    waiting: Counter[str] = Counter()  # per client address; one event loop per process, so no lock
    header_deadline = None
    waiting_as: str | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "unknown"
        if self.waiting[address] >= self.max_waiting:
            transport.write(refusal(
                429, "Too Many Requests", "TooManyRequestsInFlight",
                f"this address already has {self.waiting[address]} connections waiting to send their headers; at "
                f"most {self.max_waiting} at once",
                "Send each request's headers at once, and open fewer connections (FRAGILITY_MAX_REQUESTS_PER_CLIENT)."))
            transport.close()
            return
        self.arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.arm()

    def on_headers_complete(self) -> None:
        self.disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def arm(self) -> None:
        """Start the header deadline and count the connection as waiting (once); returns nothing."""
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.seconds, self.headers_too_slow)
            self.waiting_as = self.client[0] if self.client else "unknown"
            self.waiting[self.waiting_as] += 1

    def disarm(self) -> None:
        """Stop the header deadline and uncount the connection; returns nothing."""
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None
        if self.waiting_as is not None:
            self.waiting[self.waiting_as] -= 1
            if self.waiting[self.waiting_as] <= 0:
                del self.waiting[self.waiting_as]
            self.waiting_as = None

    def headers_too_slow(self) -> None:
        """Answer 408 and close, unless an earlier (pipelined) request's answer is still being sent: then wait for
        it another `seconds`; returns nothing."""
        self.header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.header_deadline = self.loop.call_later(self.seconds, self.headers_too_slow)
            return
        self.disarm()
        if not self.transport.is_closing():
            self.transport.write(self.timeout_answer)
            self.transport.close()

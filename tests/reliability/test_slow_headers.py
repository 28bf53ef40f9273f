"""Slow headers (the hardening issue, item 7) against a real `fragility serve` process (uvicorn, httptools):

- connections whose request line or headers never end get a 408 naming the problem and are closed after
  FRAGILITY_HEADER_TIMEOUT_SECONDS (not before), also when they trickle a byte at a time; a legitimate request
  meanwhile succeeds;
- one address holding FRAGILITY_MAX_REQUESTS_PER_CLIENT connections that wait for their headers gets 429 for one
  more, while another address is served;
- the server raised its soft open-file limit to the hard one at start (read from /proc/<pid>/limits), though it
  was started with a lower one.
"""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
TIMEOUT = 2.0
CAP = 12
STARTED_SOFT = 512


@pytest.fixture(scope="module")
def server(live_server, tmp_path_factory):
    """Return a server with a 2 s header timeout and a cap of 12 requests per address, started with a soft
    open-file limit of 512 (the hard limit unchanged)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= STARTED_SOFT:
        pytest.skip(f"the hard open-file limit here is {hard}: nothing to raise")
    url = f"sqlite:///{tmp_path_factory.mktemp('slow-headers') / 'fragility.db'}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (STARTED_SOFT, hard))  # inherited by the server process
    try:
        return live_server(url, env={"FRAGILITY_HEADER_TIMEOUT_SECONDS": TIMEOUT,
                                     "FRAGILITY_MAX_REQUESTS_PER_CLIENT": CAP})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def address(server) -> tuple[str, int]:
    """Return the server's (host, port)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def slow_connection(server, sent: bytes, source: str = "127.0.0.1") -> socket.socket:
    """Return a socket connected from `source` that sent `sent` (an unfinished request) and nothing more."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(address(server))
    if sent:
        sock.sendall(sent)
    return sock


def answer_and_close(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Return (everything the server sent until it closed the connection, when it closed it), waiting `within`
    seconds at most (a timeout fails the test)."""
    sock.settimeout(within)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic()


PARTIAL = [b"", b"GE", b"GET /healthz HTTP/1.1\r\n", b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nAccept: */*"]


def test_unfinished_headers_get_408_after_the_timeout_and_a_legitimate_request_meanwhile_succeeds(server):
    opened = time.monotonic()
    slow = [slow_connection(server, PARTIAL[i % len(PARTIAL)]) for i in range(8)]
    try:
        assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200
        with server.client(server.read_key) as client:
            assert client.get("/v1/regions").status_code == 200
        for sock in slow:
            received, closed = answer_and_close(sock, within=TIMEOUT + 8)
            assert received.startswith(b"HTTP/1.1 408 "), received[:200]
            assert b'"error": "RequestTimeout"' in received and b"did not arrive within 2 s" in received
            assert b"FRAGILITY_HEADER_TIMEOUT_SECONDS" in received
            assert closed - opened >= TIMEOUT - 0.2, "closed before the header timeout"
    finally:
        for sock in slow:
            sock.close()
    assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200


def test_a_client_trickling_header_bytes_is_cut_at_the_timeout_not_kept_alive_by_each_byte(server):
    sock = slow_connection(server, b"GET /healthz HTTP/1.1\r\n")
    opened, received = time.monotonic(), b""
    sock.settimeout(0.1)
    try:
        while time.monotonic() - opened < TIMEOUT + 6:
            try:
                sock.sendall(b"X")
            except OSError:  # reset: the server closed it
                break
            try:
                received = sock.recv(65536)
                break
            except TimeoutError:
                time.sleep(0.4)
        else:
            pytest.fail("a trickling client was kept for longer than the header timeout")
        assert time.monotonic() - opened < TIMEOUT + 3
    finally:
        sock.close()
    assert received.startswith(b"HTTP/1.1 408 ") or received == b"", received[:200]


def test_an_address_holding_the_cap_of_waiting_connections_gets_429_and_another_address_is_served(server):
    held = [slow_connection(server, b"GET / HTTP/1.1\r\n", source="127.0.0.2") for _ in range(CAP)]
    try:
        time.sleep(0.3)  # every one accepted and counted
        refused, _ = answer_and_close(slow_connection(server, b"", source="127.0.0.2"), within=5)
        assert refused.startswith(b"HTTP/1.1 429 "), refused[:200]
        assert b"connections waiting to send their headers" in refused and b"at most 12" in refused
        assert httpx.get(f"{server.base_url}/healthz", timeout=5).status_code == 200  # 127.0.0.1 is served
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    whole = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    accepted = slow_connection(server, whole, source="127.0.0.2")
    assert answer_and_close(accepted, within=5)[0].startswith(b"HTTP/1.1 200 ")


def test_the_server_raised_its_soft_open_file_limit_to_the_hard_one(server):
    line = next(line for line in Path(f"/proc/{server.process.pid}/limits").read_text().splitlines()
                if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard and soft != str(STARTED_SOFT), line

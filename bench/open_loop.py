"""An open-loop load generator: requests sent at a fixed rate whatever happened to earlier ones, over a minimal
keep-alive HTTP/1.1 client, with the latency of each counted from its due time."""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import numpy as np


class KeepAliveClient:
    """A minimal HTTP/1.1 client for the open loop: keep-alive connections opened on demand (at most
    `connections`), requests written as bytes, answers read by Content-Length.

    httpx's pool costs the client time quadratic in the requests waiting for a connection, so that under an
    open loop the client, not the server, fell behind (seen with py-spy); this one costs microseconds.
    """

    def __init__(self, base: str, headers: dict, connections: int) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port
        self.headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(connections)

    def encode(self, path: str, params: dict | None, body: dict | None) -> bytes:
        """Return the bytes of a GET of `path` with `params`, or of a POST of `body` as JSON."""
        target = str(httpx.URL(path, params=params or {}))
        if body is None:
            return f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}\r\n".encode()
        data = json.dumps(body).encode()
        return (f"POST {target} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}Content-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode() + data

    async def send(self, request: bytes) -> int:
        """Return the status code of the answer to `request` (bytes from `encode`), its body read and dropped."""
        async with self.slots:
            reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(request)
                status = int((await reader.readline()).split()[1])
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection":
                        close = value.strip().lower() == b"close"
                await reader.readexactly(length)
            except BaseException:
                writer.close()
                raise
            if close:
                writer.close()
            else:
                self.idle.append((reader, writer))
            return status

    def close(self) -> None:
        """Close the idle connections; returns nothing."""
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def open_loop(base: str, path: str, rate: float, seconds: float, headers: dict, body: dict | None = None,
                    params: dict | None = None, connections: int = 256) -> dict:
    """Return p50/p99 latency, errors and the achieved rate of `rate` requests/s to `path` for `seconds`.

    Request i is due at start + i / rate whatever happened to earlier ones (open loop); its latency runs from
    that due time to its answer, so time spent waiting for the event loop, a connection or the server's queue
    is counted. A request that fails (not 200, connection refused or dropped) counts as an error.
    """
    latencies: list[float] = []
    errors = 0
    client = KeepAliveClient(base, headers, connections)
    request = client.encode(path, params, body)

    async def send(due: float) -> None:
        nonlocal errors
        try:
            if await client.send(request) != 200:
                errors += 1
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            errors += 1
        latencies.append(time.perf_counter() - due)

    total = int(rate * seconds)
    load_before = os.getloadavg()[0]
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    client.close()
    ms = np.array(latencies) * 1000
    return {"mode": "open loop", "endpoint": path, "rate": rate, "requests": total, "errors": errors,
            "achieved_rps": round((total - errors) / elapsed, 1), "seconds": round(elapsed, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 1), "load_average": [load_before, os.getloadavg()[0]]}

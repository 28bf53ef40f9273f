"""The abusive read client of `bench/load.py --abusive`, and the probe of the cheap endpoints.

The abuser runs in a process of its own (so its own work does not slow the legitimate clients' event loop, which
measures their latency) from other loopback addresses than the legitimate clients (127.0.0.2, 127.0.0.3), so
the per-address caps judge it apart from them, as a different host would be. With one read key it sends:

- `QUESTION_LOOPS` loops of spillover questions that are never asked twice (a new threshold each time, and every
  third a scenario `{"scale": ...}`): each needs a fresh simulation. Half the loops wait for their answer, half
  leave after `LEAVE_AFTER` seconds (the server should abandon the work). After a 429 a loop waits 1 s and asks
  another question: the benchmark sets the rate limit out of the way of the legitimate clients' shared key, so
  a tighter loop would measure the raw request rate, which FRAGILITY_RATE_LIMIT caps per key in a deployment;
- `SLOW_CONNECTIONS` connections that send a request line and then one header byte every 2 s, never ending
  their headers, each reconnecting as soon as the server answers (408 at the header timeout, 429 over the
  per-address cap of connections waiting for headers) or closes it.

`probe` times `GET /healthz` and `GET /v1/models` every 0.5 s from the legitimate side.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx

QUESTION_LOOPS = 60
SLOW_CONNECTIONS = 150
LEAVE_AFTER = 3.0
QUESTION_SOURCE, SLOW_SOURCE = "127.0.0.2", "127.0.0.3"


async def question_loop(number: int, client: httpx.AsyncClient, model: str, pairs: list[tuple[str, str]],
                        until: float, seen: Counter, latency: list[float]) -> None:
    """Ask never-repeated spillover questions until `until`; count statuses in `seen`; returns nothing."""
    asked = 0
    while time.monotonic() < until:
        asked += 1
        source, target = pairs[(number + asked) % len(pairs)]
        body = {"source": source, "target": target, "threshold": 3 + number + asked / 1000, "horizon": 6}
        if asked % 3 == 0:
            body["scenario"] = {"scale": 1 + number / 100 + asked / 10_000}
        started = time.perf_counter()
        timeout = LEAVE_AFTER if number % 2 else 120.0
        try:
            answer = await client.post(f"/v1/models/{model}/spillover", json=body, timeout=timeout)
            status: int | str = answer.status_code
        except httpx.TimeoutException:
            status = "left"
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        seen[status] += 1
        if status == 200:
            latency.append(time.perf_counter() - started)
        if status == 429:
            await asyncio.sleep(1.0)


async def slow_connection(host: str, port: int, until: float, seen: Counter, open_now: list[int]) -> None:
    """Hold a connection that never finishes its headers, again and again until `until`; returns nothing."""
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(SLOW_SOURCE, 0))
        except OSError as exc:
            seen[f"connect {type(exc).__name__}"] += 1
            await asyncio.sleep(0.5)
            continue
        open_now[0] += 1
        open_now[1] = max(open_now[1], open_now[0])
        try:
            writer.write(b"GET /v1/models HTTP/1.1\r\nHost: load\r\nX-Slow: ")
            await writer.drain()
            while time.monotonic() < until:
                try:
                    line = await asyncio.wait_for(reader.readline(), timeout=2.0)
                except TimeoutError:
                    writer.write(b"x")
                    await writer.drain()
                    continue
                seen[line.split()[1].decode() if line.startswith(b"HTTP/") else "closed"] += 1
                if line.startswith(b"HTTP/1.1 429"):
                    await asyncio.sleep(0.5)
                break
        except OSError:
            seen["reset"] += 1
        finally:
            open_now[0] -= 1
            writer.close()


PARTS = ("questions", "slow")
"""The abuser's two parts, each of which `--abuser-parts` can run alone (to tell which one costs what)."""


async def abuse(base: str, read_key: str, model: str, pairs: list[tuple[str, str]], seconds: float,
                parts: tuple[str, ...] = PARTS) -> dict:
    """Return what the abuser sent and got back over `seconds`: question statuses and answer times, slow
    connections' outcomes and the most held at once (`parts`: which of PARTS to run)."""
    until = time.monotonic() + seconds
    questions: Counter = Counter()
    slow: Counter = Counter()
    latency: list[float] = []
    open_now = [0, 0]
    transport = httpx.AsyncHTTPTransport(local_address=QUESTION_SOURCE, limits=httpx.Limits(max_connections=None))
    address = urlsplit(base)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {read_key}"},
                                 transport=transport) as client:
        await asyncio.gather(
            *(question_loop(n, client, model, pairs, until, questions, latency)
              for n in range(QUESTION_LOOPS if "questions" in parts else 0)),
            *(slow_connection(address.hostname, address.port, until, slow, open_now)
              for _ in range(SLOW_CONNECTIONS if "slow" in parts else 0)))
    answered = sorted(latency)
    return {"parts": list(parts), "questions": dict(questions),
            "question_answer_seconds_p50": answered[len(answered) // 2] if answered else None,
            "slow_header_outcomes": dict(slow), "slow_connections_held_at_most": open_now[1]}


def run_abuser(base: str, read_key: str, model: str, pairs: list[tuple[str, str]], seconds: float,
               parts: tuple[str, ...] = PARTS) -> dict:
    """Return `abuse(...)`'s record, run on an event loop of this process (the entry point of its process)."""
    return asyncio.run(abuse(base, read_key, model, pairs, seconds, parts))


async def probe(base: str, key: str, until: float, latency: dict[str, list[float]], failures: Counter) -> None:
    """Time GET /healthz and GET /v1/models every 0.5 s until `until` into `latency`; returns nothing."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        while time.monotonic() < until:
            for path in ("/healthz", "/v1/models"):
                started = time.perf_counter()
                try:
                    status = (await client.get(path)).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latency[path].append(time.perf_counter() - started)
                if status != 200:
                    failures[f"{path} {status}"] += 1
            await asyncio.sleep(0.5)

"""More concurrent requests than request threads, on a PostgreSQL pool much smaller than the threadpool:
every request is answered 200 (requests queue for a thread or a connection instead of failing) and every
acknowledged write is stored. A small, fast version of bench/load.py's zero-5xx target.

Before connections were released between a request's threadpool hops, requests holding an idle
connection while they queued for a thread starved the pool and got 503s after the pool timeout
(37 x 503 in the first 5-minute bench/load.py run).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.pg, pytest.mark.slow]

CLIENTS = 56  # more than the 40 threads of the server's threadpool
SECONDS = 15
POOL = {"FRAGILITY_DB__POOL_SIZE": 3, "FRAGILITY_DB__MAX_OVERFLOW": 0, "FRAGILITY_DB__POOL_TIMEOUT_SECONDS": 10}


def traffic(base_url: str, key: str, until: float, client_number: int, log: list) -> None:
    """Send region lists, series reads and one-row writes until `until`; append (kind, status, period)."""
    i = 0
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        while time.monotonic() < until:
            i += 1
            # each client its own 2 years from 1900 (the earliest month accepted), cycled
            period = f"{1900 + client_number * 2 + (i // 12) % 2}-{i % 12 + 1:02d}"
            kind = ("regions", "series", "write")[i % 3]
            try:
                if kind == "regions":
                    status = client.get("/v1/regions").status_code
                elif kind == "series":
                    status = client.get("/v1/series", params={"region": "IRQ", "indicator": "attacks"}).status_code
                else:
                    row = {"region": "IRQ", "indicator": "attacks", "period": period, "value": client_number}
                    status = client.post("/v1/observations", json={"observations": [row]}).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            log.append((kind, status, period if kind == "write" else None))


def test_more_clients_than_threads_on_a_tiny_pool_get_no_5xx_and_lose_no_write(pg_url, live_server):
    from indicators import load_demo_regions

    server = live_server(pg_url, env=POOL)
    with server.client(server.write_key) as client:
        assert client.post("/v1/regions", json={"regions": load_demo_regions()}).status_code == 200
        indicators = {"indicators": [{"id": "attacks", "kind": "count"}]}
        assert client.post("/v1/indicators", json=indicators).status_code == 200
    log: list = []
    until = time.monotonic() + SECONDS
    threads = [threading.Thread(target=traffic, args=(server.base_url, server.write_key, until, n, log))
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = Counter((kind, status) for kind, status, _ in log)
    print(f"{len(log)} requests in {SECONDS} s from {CLIENTS} clients: {dict(statuses)}")
    assert log and {status for _, status, _ in log} == {200}, statuses
    acknowledged = {period for kind, status, period in log if kind == "write" and status == 200}
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        stored = {p for (p,) in connection.execute(
            "SELECT period FROM observations WHERE region_id = 'IRQ' AND indicator_id = 'attacks'")}
    assert acknowledged and acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged writes lost"

"""Database faults against real `fragility serve` processes on PostgreSQL:

- kill -9 the server while it writes a 50,000-row batch (an insert, then an update of every row):
  after a restart the batch is entirely there or entirely absent, revisions included;
- cut the service off PostgreSQL under load (a TCP proxy in between is stopped, then started again;
  the shared PostgreSQL server is never touched): requests fail fast with 503 (never 500, never a
  hang), /readyz says unavailable, and the same process recovers once the database is back; every
  write answered 200 is stored;
- every backend of the database terminated by the server three times under load (what a PostgreSQL
  restart does to open sessions; slow): at worst 503s, then 200s, with no restart and no write lost;
- a silent partition (the proxy keeps every connection open but forwards nothing, as a hung server or
  a dropped network would): requests answer 503 within seconds instead of hanging (service/db/guard.py),
  and the same process serves again as soon as the partition heals.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

from indicators import load_demo_regions
from tests.conftest import free_port
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.pg]

BATCH_ROWS = 50_000
ENV = {"FRAGILITY_MAX_BODY_BYTES": 20_000_000, "FRAGILITY_MAX_BATCH_ROWS": BATCH_ROWS}
INDICATORS = [{"id": "attacks", "kind": "count"}, {"id": "seized", "kind": "amount"}]
WRITE_STATEMENT = r"^\s*(INSERT INTO observation|UPDATE observations)"


def libpq_dsn(sqlalchemy_url: str) -> str:
    """Return a psycopg DSN for a SQLAlchemy postgresql+psycopg URL."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")


def big_batch(value: int) -> list[dict]:
    """Return 50,000 observations (25 regions x 2 indicators x 1,000 months from 1900-01), all `value`."""
    regions = [r["id"] for r in load_demo_regions()]
    months = [f"{1900 + i // 12}-{i % 12 + 1:02d}" for i in range(1000)]
    return [{"region": r, "indicator": i["id"], "period": m, "value": value}
            for r in regions for i in INDICATORS for m in months]


def stored(dsn: str) -> tuple[int, set[float], int]:
    """Return (observation rows, distinct values, revision rows) in the database."""
    with psycopg.connect(dsn) as connection:
        rows = connection.execute("SELECT count(*) FROM observations").fetchone()[0]
        values = {v for (v,) in connection.execute("SELECT DISTINCT value FROM observations")}
        revisions = connection.execute("SELECT count(*) FROM observation_revisions").fetchone()[0]
    return rows, values, revisions


def wait_for_write(dsn: str, database: str, timeout: float) -> bool:
    """Return True once a backend of `database` runs the batch's INSERT/UPDATE, False after `timeout` s."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as connection:
        while time.monotonic() < deadline:
            busy = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND query ~* %s",
                (database, WRITE_STATEMENT)).fetchone()[0]
            if busy:
                return True
            time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def seeded_pg(pg_url, live_server):
    """Return (pg_url, psycopg dsn) of a database holding the 25 demo regions and two indicators."""
    server = live_server(pg_url, env=ENV)
    with server.client(server.write_key) as client:
        assert client.post("/v1/regions", json={"regions": load_demo_regions()}).status_code == 200
        assert client.post("/v1/indicators", json={"indicators": INDICATORS}).status_code == 200
    server.stop()
    return pg_url, libpq_dsn(pg_url)


@pytest.mark.parametrize("value,before", [
    pytest.param(1, (0, set(), 0), id="insert-50k"),
    pytest.param(2, (BATCH_ROWS, {1.0}, 0), id="update-50k", marks=pytest.mark.slow)])
def test_kill_9_during_a_large_batch_leaves_it_all_or_nothing(seeded_pg, live_server, value, before):
    url, dsn = seeded_pg
    server = live_server(url, env=ENV)
    if value == 2 and stored(dsn)[0] == 0:  # run alone (e.g. `-m slow`): store what the insert case leaves
        with server.client(server.write_key, timeout=120) as client:
            assert client.post("/v1/observations", json={"observations": big_batch(1)}).status_code == 200
    assert stored(dsn) == before
    rows = big_batch(value)
    outcome: dict = {}

    def send() -> None:
        try:
            with server.client(server.write_key, timeout=120) as client:
                outcome["answer"] = client.post("/v1/observations", json={"observations": rows})
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    sender = threading.Thread(target=send)
    sender.start()
    caught_writing = wait_for_write(dsn, url.rsplit("/", 1)[1], timeout=60)
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    sender.join(timeout=30)
    after_kill = stored(dsn)
    print(f"value {value}: caught writing={caught_writing}; client got {outcome}; stored {after_kill[:1]}")
    assert caught_writing or "answer" in outcome, "the batch was neither written nor answered"

    restarted = live_server(url, env=ENV)
    after_restart = stored(dsn)
    assert after_restart == after_kill
    all_there = (BATCH_ROWS, {float(value)}, before[0] if value == 2 else 0)
    assert after_restart in (before, all_there), after_restart
    if "answer" in outcome and outcome["answer"].status_code == 200:
        assert after_restart == all_there  # an acknowledged batch survives the kill
    with restarted.client(restarted.write_key, timeout=120) as client:
        resent = client.post("/v1/observations", json={"observations": rows})
    assert resent.status_code == 200, resent.text
    assert stored(dsn) == all_there
    restarted.stop()


def hammer(base_url: str, key: str, stop: threading.Event, log: list, worker: int) -> None:
    """Send reads and one-row writes until `stop`; append (phase time, kind, status or error, seconds, key)."""
    i = 0
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=15) as client:
        while not stop.is_set():
            i += 1
            # each worker its own 20 years from 1900 (the earliest month accepted), cycled
            period = f"{1900 + worker * 20 + (i // 12) % 20}-{i % 12 + 1:02d}"
            kind, call = [("read", lambda: client.get("/v1/regions")),
                          ("series", lambda: client.get("/v1/series",
                                                        params={"region": "IRQ", "indicator": "attacks"})),
                          ("write", lambda: client.post("/v1/observations", json={"observations": [
                              {"region": "IRQ", "indicator": "attacks", "period": period, "value": worker}]}))][i % 3]
            started = time.monotonic()
            try:
                status = call().status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            log.append((started, kind, status, time.monotonic() - started, period if kind == "write" else None))
            time.sleep(0.01)


def test_postgres_outage_under_load_is_503_then_recovers_without_restart(seeded_pg, live_server):
    url, dsn = seeded_pg
    proxy = TcpProxy(("127.0.0.1", 5432), free_port())
    proxy.start()
    proxied = url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    server = live_server(proxied)
    stop, log = threading.Event(), []
    workers = [threading.Thread(target=hammer, args=(server.base_url, server.write_key, stop, log, n))
               for n in range(6)]
    try:
        for worker in workers:
            worker.start()
        time.sleep(3)
        outage_began = time.monotonic()
        proxy.stop()
        time.sleep(2)
        readyz_down = httpx.get(f"{server.base_url}/readyz", timeout=15)
        time.sleep(3)
        outage_ended = time.monotonic()
        proxy.start()
        recovered_at = None
        while time.monotonic() < outage_ended + 30:
            if httpx.get(f"{server.base_url}/readyz", timeout=15).status_code == 200:
                recovered_at = time.monotonic()
                break
            time.sleep(0.2)
        time.sleep(3)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        proxy.close()
    assert server.process.poll() is None, "the service died during the outage"
    statuses = Counter(status for _, _, status, _, _ in log)
    during = Counter(status for t, _, status, _, _ in log if outage_began + 0.5 < t < outage_ended - 0.5)
    after = Counter(status for t, _, status, _, _ in log if recovered_at and t > recovered_at + 1)
    slowest = max(seconds for _, _, _, seconds, _ in log)
    print(f"all {dict(statuses)}; during outage {dict(during)}; after recovery {dict(after)}; "
          f"slowest {slowest:.2f} s; recovered {recovered_at and recovered_at - outage_ended:.2f} s after")
    assert statuses[500] == 0 and not any(isinstance(s, str) for s in statuses), statuses
    assert during and set(during) <= {503}, during
    assert readyz_down.status_code == 503 and "unreachable" in readyz_down.json()["database"]
    assert recovered_at is not None, "the service did not recover within 30 s of the database coming back"
    assert after and set(after) == {200}, after
    assert slowest < 10, f"a request took {slowest:.1f} s"
    acknowledged = {(period, ) for _, kind, status, _, period in log if kind == "write" and status == 200}
    with psycopg.connect(dsn) as connection:
        present = {(p,) for (p,) in connection.execute(
            "SELECT period FROM observations WHERE region_id = 'IRQ' AND indicator_id = 'attacks'")}
    assert acknowledged <= present, f"{len(acknowledged - present)} acknowledged writes were lost"


@pytest.mark.slow
def test_every_backend_terminated_under_load_is_at_worst_a_503_and_needs_no_restart(seeded_pg, live_server):
    """What a PostgreSQL restart does to the service's sessions (each one ended by the server), without
    restarting the shared server: pg_terminate_backend on every backend of the database, three times."""
    url, dsn = seeded_pg
    database = url.rsplit("/", 1)[1]
    server = live_server(url)
    stop, log = threading.Event(), []
    workers = [threading.Thread(target=hammer, args=(server.base_url, server.write_key, stop, log, n))
               for n in range(6)]
    terminated = 0
    try:
        for worker in workers:
            worker.start()
        time.sleep(2)
        with psycopg.connect(dsn, autocommit=True) as admin:
            for _ in range(3):
                terminated += admin.execute(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()) t", (database,)).fetchone()[0]
                time.sleep(1.5)
        ended = time.monotonic()
        time.sleep(3)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    statuses = Counter(status for _, _, status, _, _ in log)
    after = Counter(status for t, _, status, _, _ in log if t > ended + 1)
    print(f"{terminated} backends terminated; all {dict(statuses)}; afterwards {dict(after)}")
    assert terminated > 0 and server.process.poll() is None
    assert set(statuses) <= {200, 503}, statuses
    assert after and set(after) == {200}, after
    acknowledged = {(period,) for _, kind, status, _, period in log if kind == "write" and status == 200}
    with psycopg.connect(dsn) as connection:
        present = {(p,) for (p,) in connection.execute(
            "SELECT period FROM observations WHERE region_id = 'IRQ' AND indicator_id = 'attacks'")}
    assert acknowledged <= present, f"{len(acknowledged - present)} acknowledged writes were lost"


@pytest.mark.slow
def test_a_silent_partition_from_postgres_is_a_503_within_seconds_then_recovers(seeded_pg, live_server):
    url, _ = seeded_pg
    proxy = TcpProxy(("127.0.0.1", 5432), free_port())
    proxy.start()
    server = live_server(url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"))
    try:
        with server.client(server.read_key, timeout=30) as client:
            assert client.get("/v1/regions").status_code == 200
            proxy.freeze()
            answers = []
            for _ in range(2):  # the pooled connection stalls first; then a new one cannot connect
                started = time.monotonic()
                try:
                    answer = client.get("/v1/regions")
                    answers.append((answer.status_code, answer.json(), time.monotonic() - started))
                except httpx.TimeoutException:
                    answers.append(("no answer within 30 s", None, time.monotonic() - started))
            proxy.freeze(False)
            healed = time.monotonic()
            recovered = client.get("/v1/regions")
            recovery_seconds = time.monotonic() - healed
        print(f"during the partition: {[(s, round(t, 1)) for s, _, t in answers]}; "
              f"after it: {recovered.status_code} in {recovery_seconds:.2f} s")
        for status, body, seconds in answers:
            assert status == 503 and seconds < 12, (status, round(seconds, 1))
            assert body["error"] == "DatabaseUnavailable" and body["hint"], body
        assert recovered.status_code == 200 and recovery_seconds < 5, (recovered.status_code, recovery_seconds)
        assert server.process.poll() is None
    finally:
        proxy.close()

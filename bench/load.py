"""Load benchmark: mixed traffic from 64 concurrent clients against a real `fragility serve` on PostgreSQL.

    PYTENSOR_FLAGS=base_compiledir=$HOME/.cache/fragility-pytensor .venv/bin/python -m bench.load --seconds 300

The script makes a fresh PostgreSQL database (dropped at the end unless --keep), stores the 25 demo
regions and 10 years of simulated monthly attack counts over them, starts the server (API with its
embedded scheduler and worker) as a separate process, fits the model once, then runs the clients from
this process (httpx, asyncio) for --seconds: forecasts, exceedance probabilities, spillover questions,
series reads and region lists, and ingest batches (new months and revisions of earlier ones), while a
refit of the model is kept running the whole time. Afterwards every acknowledged observation is looked
up in the database: rows lost = acknowledged cells absent or holding another value than the last one
acknowledged. Prints JSON lines: setup, one line per endpoint (count, rps, p50/p99 ms, statuses), the
refits, the rows check, a summary (throughput, 5xx count, rows lost, load average during the run) and the
warnings and errors the server logged, counted by kind. FRAGILITY_DB__* variables reach the server
(e.g. FRAGILITY_DB__POOL_SIZE=5 FRAGILITY_DB__MAX_OVERFLOW=10 for the pool before this change).
`GET /healthz` and `GET /v1/models` are timed every 0.5 s throughout (`probe` lines). `--abusive` adds the
abusive read client of bench/abuse.py beside the legitimate ones (never-repeated spillover questions and
scenarios from one read key, and connections that never finish their headers; its own line `abuser`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from bench.abuse import PARTS, probe, run_abuser
from bench.load_checks import check_rows, create_database, drop_database, make_keys, percentiles, server_problems

ROOT = Path(__file__).resolve().parents[1]
MODEL = "load"
MODEL_REGIONS = ["IRQ", "IRN", "SYR", "TUR", "JOR", "KWT", "SAU", "ARM"]
SAMPLER = {"method": "nutpie", "draws": 200, "tune": 200, "chains": 2, "seed": 1}
GATE_ENV = {"FRAGILITY_GATE__MAX_RHAT": "100", "FRAGILITY_GATE__MIN_ESS_BULK": "1",
            "FRAGILITY_GATE__MAX_DIVERGENCES": "1000000000"}  # the load is measured, not the fit
INGEST_ROWS = 50
MIX = [("forecast", 35), ("spillover", 12), ("probability", 10), ("series", 15), ("regions", 5), ("ingest", 23)]


def emit(**fields) -> None:
    """Print one JSON line."""
    print(json.dumps(fields), flush=True)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, artifacts: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Return (process, base URL) of `fragility serve` (API + embedded worker) once /readyz answers 200."""
    port = free_port()
    env = {**os.environ, **GATE_ENV, "FRAGILITY_DATABASE_URL": url, "FRAGILITY_ARTIFACTS": str(artifacts),
           "FRAGILITY_RATE_LIMIT": "10000000/minute", "FRAGILITY_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("server not ready within 120 s")


def seed(client: httpx.Client) -> dict:
    """Store regions, indicators and 10 years of simulated counts; create the model. Returns the counts."""
    from indicators import load_demo_regions, simulate_count_panel

    regions = load_demo_regions()
    client.post("/v1/regions", json={"regions": regions}).raise_for_status()
    client.post("/v1/indicators", json={"indicators": [
        {"id": "attacks", "kind": "count", "unit": "events"},
        {"id": "load_events", "kind": "count", "unit": "events", "description": "written by bench.load"}]},
    ).raise_for_status()
    panel, _ = simulate_count_panel(len(regions), 120, seed=0, graph=regions)
    frame = panel.to_frame()
    rows = [{"region": r.region, "indicator": r.indicator, "period": r.period, "value": float(r.value)}
            for r in frame.itertuples()]
    stored = client.post("/v1/observations", json={"observations": rows}).raise_for_status().json()
    client.post("/v1/models", json={"name": MODEL, "family": "count", "indicator": "attacks",
                                    "regions": MODEL_REGIONS, "spillover": True, "horizon": 6,
                                    "sampler": SAMPLER}).raise_for_status()
    return {"regions": len(regions), "observations": stored["inserted"]}


def wait_job(client: httpx.Client, job_id: int, timeout: float) -> dict:
    """Return the job once it ended; raises SystemExit after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(1)
    raise SystemExit(f"job {job_id} did not end within {timeout} s")


class Ledger:
    """What the clients saw: latencies and statuses per endpoint, and every acknowledged observation."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.acknowledged: dict[tuple[str, str], float] = {}
        self.unknown_outcome = 0
        self.probe: dict[str, list[float]] = defaultdict(list)
        self.probe_failures: Counter = Counter()

    def record(self, endpoint: str, seconds: float, status: int | str) -> None:
        """Add one request's latency and status; returns nothing."""
        self.latency[endpoint].append(seconds)
        self.status[endpoint][status] += 1


def read_request(client: httpx.AsyncClient, endpoint: str, region: str, rng: random.Random, neighbours: dict):
    """Return the (not yet awaited) request of a read `endpoint` about `region`; None for "ingest"."""
    if endpoint == "forecast":
        return client.get(f"/v1/models/{MODEL}/forecast", params={"region": region, "horizon": rng.randint(1, 6)})
    if endpoint == "probability":
        return client.post(f"/v1/models/{MODEL}/probability",
                           json={"region": region, "threshold": rng.choice([5, 10, 20]), "horizon": 6})
    if endpoint == "spillover":
        target = rng.choice(neighbours[region])
        return client.post(f"/v1/models/{MODEL}/spillover", json={
            "source": region, "target": target, "threshold": rng.choice([5, 10, 20]), "horizon": 6})
    if endpoint == "series":
        return client.get("/v1/series", params={"region": region, "indicator": "attacks"})
    if endpoint == "regions":
        return client.get("/v1/regions")
    return None


def ingest_rows(number: int, batch: int, rng: random.Random, own: list[tuple[str, str]],
                all_regions: list[str], clients: int) -> list[dict]:
    """Return client `number`'s ingest batch `batch`: a revision of its own cells (30%) or two of its months (every
    `clients`-th month from 1900-01, the earliest accepted, to last December: no two clients write one cell)."""
    rows = []
    if own and rng.random() < 0.3:  # a revision of cells this client stored before
        for cell in rng.sample(own, min(len(own), INGEST_ROWS)):
            rows.append({"region": cell[0], "indicator": "load_events", "period": cell[1],
                         "value": float(rng.randint(0, 99))})
    else:
        months = range(number, (time.gmtime().tm_year - 1900) * 12, clients)
        chosen = [months[(2 * batch + step) % len(months)] for step in (0, 1)]
        region_ids = rng.sample(sorted(all_regions), INGEST_ROWS // 2)
        for r in region_ids:
            for period in (f"{1900 + month // 12:04d}-{month % 12 + 1:02d}" for month in chosen):
                rows.append({"region": r, "indicator": "load_events", "period": period,
                             "value": float(rng.randint(0, 99))})
    return rows


def settle_ingest(ledger: Ledger, rows: list[dict], status: int | str, own: list[tuple[str, str]]) -> None:
    """Record an ingest's outcome: acknowledged rows (and new own cells) on 200, an unknown outcome on
    a 5xx or transport error; returns nothing."""
    keys = [(r["region"], r["period"]) for r in rows]
    if status == 200:
        for row, cell in zip(rows, keys):
            ledger.acknowledged[cell] = row["value"]
            if cell not in own:
                own.append(cell)
    elif not isinstance(status, int) or status >= 500:
        ledger.unknown_outcome += 1


async def client_loop(number: int, base: str, key: str, until: float, ledger: Ledger, neighbours: dict,
                      clients: int) -> None:
    """Send the traffic mix until `until` (monotonic seconds) as client `number` of `clients`; returns nothing.

    `neighbours` maps every region id to its neighbours inside the model (spillover targets).
    """
    all_regions = list(neighbours)
    rng = random.Random(number)
    endpoints = [name for name, weight in MIX for _ in range(weight)]
    own: list[tuple[str, str]] = []
    batch = 0
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        while time.monotonic() < until:
            endpoint = rng.choice(endpoints)
            region = rng.choice(MODEL_REGIONS)
            rows = None
            call = read_request(client, endpoint, region, rng, neighbours)
            if call is None:
                batch += 1
                rows = ingest_rows(number, batch, rng, own, all_regions, clients)
                call = client.post("/v1/observations", json={"observations": rows})
            started = time.perf_counter()
            try:
                answer = await call
                status: int | str = answer.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            ledger.record(endpoint, time.perf_counter() - started, status)
            if rows is not None:
                settle_ingest(ledger, rows, status, own)


async def refits(base: str, key: str, until: float, done: list) -> None:
    """Keep one refit of the model queued or running until `until`; append each ended job to `done`."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        while time.monotonic() < until:
            job_id = (await client.post(f"/v1/models/{MODEL}/fit")).json()["job_id"]
            while time.monotonic() < until + 600:
                job = (await client.get(f"/v1/jobs/{job_id}")).json()
                if job["status"] in ("succeeded", "failed", "cancelled"):
                    done.append(job)
                    break
                await asyncio.sleep(1)


async def sample_load(until: float, samples: list[float]) -> None:
    """Append the 1-minute load average every 5 s until `until`; returns nothing."""
    while time.monotonic() < until:
        samples.append(os.getloadavg()[0])
        await asyncio.sleep(5)


async def run_load(base: str, keys: list[str], seconds: float, neighbours: dict,
                   abuser_key: str | None = None, abuser_parts: tuple[str, ...] = PARTS,
                   ) -> tuple[Ledger, list, float, list[float], dict | None]:
    """Return (ledger, ended refit jobs, wall seconds, load averages sampled every 5 s, the abuser's record or
    None) of one client per key of `keys` sending the mix for `seconds` (beside the abuser when `abuser_key`
    is given, running `abuser_parts`); the refits and the probe use the first key."""
    key, clients = keys[0], len(keys)
    ledger, done, load = Ledger(), [], []
    began = time.monotonic()
    until = began + seconds
    background = [asyncio.create_task(refits(base, key, until, done)), asyncio.create_task(sample_load(until, load)),
                  asyncio.create_task(probe(base, key, until, ledger.probe, ledger.probe_failures))]
    abuser = None
    if abuser_key is not None:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        pairs = [(r, n) for r in MODEL_REGIONS for n in neighbours[r] if n != r]
        abuser = asyncio.wrap_future(pool.submit(run_abuser, base, abuser_key, MODEL, pairs, seconds,
                                                       abuser_parts))
        abuser.add_done_callback(lambda _: pool.shutdown(wait=False))
    await asyncio.gather(*(client_loop(n, base, keys[n], until, ledger, neighbours, clients) for n in range(clients)))
    wall = time.monotonic() - began
    for task in background:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    return ledger, done, wall, load, (await abuser if abuser is not None else None)


def main() -> None:
    """Run the benchmark (see the module docstring) and print its JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--abusive", action="store_true", help="add the abusive read client of bench/abuse.py")
    parser.add_argument("--abuser-parts", default=",".join(PARTS),
                        help=f"with --abusive: which of its parts run, comma-separated (default {','.join(PARTS)})")
    args = parser.parse_args()

    name, url = create_database()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    workdir = Path(tempfile.mkdtemp(prefix="fragility-load-"))
    process = None
    try:
        keys = make_keys(url, "write", args.clients)  # each client its own key, as distinct users have
        key = keys[0]
        process, base = start_server(url, workdir / "artifacts", workdir / "server.log")
        from indicators import load_demo_regions

        all_neighbours = {r["id"]: [n if isinstance(n, str) else n["id"] for n in r["neighbours"]]
                          for r in load_demo_regions()}
        neighbours = {r: [n for n in all_neighbours[r] if n in MODEL_REGIONS] or [r] for r in all_neighbours}
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            began = time.monotonic()
            seeded = seed(client)
            job = wait_job(client, client.post(f"/v1/models/{MODEL}/fit").json()["job_id"], timeout=1200)
            if job["status"] != "succeeded":
                raise SystemExit(f"the first fit failed: {job}")
            emit(phase="setup", database=name, **seeded, first_fit_seconds=job.get("seconds"),
                 setup_seconds=round(time.monotonic() - began, 1), clients=args.clients, seconds=args.seconds)
        abuser_key = make_keys(url, "read")[0] if args.abusive else None
        ledger, refit_jobs, wall, load, abused = asyncio.run(run_load(base, keys, args.seconds, neighbours, abuser_key,
                                                                   tuple(args.abuser_parts.split(","))))
        total = 0
        all_status: Counter = Counter()
        for endpoint, seconds in sorted(ledger.latency.items()):
            total += len(seconds)
            all_status.update(ledger.status[endpoint])
            emit(endpoint=endpoint, rps=round(len(seconds) / wall, 1), **percentiles(seconds),
                 statuses={str(k): v for k, v in ledger.status[endpoint].items()})
        for path, seconds in sorted(ledger.probe.items()):
            emit(probe=path, **percentiles(seconds), failures=dict(ledger.probe_failures))
        reads = [s for endpoint, values in ledger.latency.items() if endpoint != "ingest" for s in values]
        emit(legitimate="reads", **percentiles(reads))
        emit(legitimate="cheap reads (forecast, series, regions)",
             **percentiles([s for e in ("forecast", "series", "regions") for s in ledger.latency.get(e, [])]))
        emit(legitimate="all", **percentiles([s for values in ledger.latency.values() for s in values]))
        if abused is not None:
            emit(abuser=abused)
        emit(refits=len(refit_jobs), refit_statuses=dict(Counter(j["status"] for j in refit_jobs)),
             refit_seconds=[j.get("seconds") for j in refit_jobs])
        time.sleep(1)
        rows = check_rows(dsn, ledger.acknowledged)
        emit(rows_check=rows, writes_with_unknown_outcome=ledger.unknown_outcome)
        server_errors = sum(v for k, v in all_status.items() if not isinstance(k, int) or k >= 500)
        emit(summary=True, requests=total, seconds=round(wall, 1), rps=round(total / wall, 1),
             statuses={str(k): v for k, v in all_status.items()}, errors_5xx_or_transport=server_errors,
             rows_lost=rows["rows_lost"] + rows["rows_wrong_value"], server_alive=process.poll() is None,
             load_average={"min": min(load), "mean": round(sum(load) / len(load), 2), "max": max(load)})
        emit(server_log_problems=server_problems(workdir / "server.log"))
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()

"""Serving benchmark: requests/second and p50/p99 latency of GET /v1/models/{name}/forecast under
32 concurrent clients, beside GET /healthz in the same run, against a real uvicorn server process
with a promoted version; then the questions (POST probability and spillover): the first answer (it
simulates the question's posterior grids) and p50/p99 with a warm cache. Prints JSON lines.

    PYTENSOR_FLAGS=base_compiledir=$HOME/.cache/fragility-pytensor .venv/bin/python -m bench.serving

The setup (tiny synthetic panel, one real fit with a gate relaxed for the tiny fit) runs in this
process; the server is a separate process (one uvicorn worker, the default of `fragility serve`),
started without the embedded worker so that only serving is measured. --panel demo stores the demo's
data instead (24 Middle East regions x 84 synthetic months, as `fragility demo`) and asks Iraq -> Iran. Reads are public
(FRAGILITY_PUBLIC_READ=1) unless --with-key is given, in which case every request (both endpoints'
clients) sends a read key, so the forecast pays the key lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/serving.py` finds bench too

from bench.open_loop import open_loop

ROOT = Path(__file__).resolve().parents[1]
GATE = {"max_rhat": 100.0, "min_ess_bulk": 1, "max_divergences": 10**9}  # serving is measured, not the fit
INDICATOR = {"id": "attacks", "kind": "count", "unit": "events", "description": "synthetic"}
MODEL = {"name": "bench", "family": "count", "indicator": "attacks", "regions": [], "covariates": [],
         "spillover": True, "horizon": 6,
         "sampler": {"method": "nutpie", "draws": 1000, "tune": 1000, "chains": 2, "seed": 1}}
SERVER = """
import uvicorn
from service.app import create_app
from service.settings import Settings
uvicorn.run(create_app(Settings(), start_hooks=[]), host="127.0.0.1", port={port}, log_level="warning",
            access_log=False)
"""


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PANELS = {
    "tiny": {"source": "R01", "target": "R02", "what": "tiny panel 4 regions x 60 months"},
    "demo": {"source": "IRQ", "target": "IRN", "what": "demo panel 24 regions x 84 months"},
}


def panel_rows(panel: str) -> tuple[list[dict], list[dict]]:
    """Return (regions, observation rows of `attacks`) of the named benchmark panel."""
    from indicators import add_months, current_month, load_demo_regions, simulate_count_panel

    if panel == "demo":
        from service.cli.demo_data import demo_rows

        regions = load_demo_regions()
        rows = demo_rows(regions, n_periods=84, seed=7, end=add_months(current_month(), -1))
        return regions, [row | {"indicator": INDICATOR["id"]} for row in rows]
    sim, _ = simulate_count_panel(4, 60, seed=3, graph="ring")
    regions = [{"id": r["id"], "name": r["name"], "neighbours": list(r["neighbours"])} for r in sim.region_dicts]
    return regions, [{"region": row.region, "indicator": row.indicator, "period": row.period,
                      "value": float(row.value)} for row in sim.to_frame().itertuples()]


def seed_panel(database, panel: str = "tiny") -> None:
    """Store the named benchmark panel (`PANELS`) through the service's own catalogue and ingest functions;
    returns nothing."""
    from service.crud.indicators import upsert_indicators
    from service.crud.observations import ingest_rows
    from service.crud.regions import upsert_regions

    regions, rows = panel_rows(panel)
    with database.session() as session:
        upsert_regions(session=session, items=regions)
        upsert_indicators(session=session, items=[INDICATOR])
        ingest_rows(session=session, rows=rows)
        session.commit()


def prepare(root: Path, with_key: bool, panel: str = "tiny") -> tuple[dict, str | None]:
    """Return (server environment, read key or None) after seeding a panel and promoting one real tiny fit."""
    from service.crud import queue
    from service.crud.keys import create_key
    from service.crud.models import create_model
    from service.db.engine import Database, run_migrations
    from service.db.tables import utc_now
    from service.executors import LocalExecutor
    from service.jobs.worker import Worker
    from service.settings import GateThresholds, Settings

    url = f"sqlite:///{root}/bench.db"
    run_migrations(url)
    database = Database(url)
    seed_panel(database, panel)
    settings = Settings(database_url=url, artifacts=root / "artifacts", gate=GateThresholds(**GATE))
    with database.session() as session:
        model = create_model(session, data=MODEL)
        queue.enqueue(session, kind="fit", model_id=model.id, now=utc_now())
        key = create_key(session=session, scope="read")[1] if with_key else None
        session.commit()
    executor = LocalExecutor(1)
    try:
        Worker(database, settings, executor=executor).run_once()
    finally:
        executor.close()
    database.dispose()
    env = {**os.environ, "FRAGILITY_DATABASE_URL": url, "FRAGILITY_ARTIFACTS": str(root / "artifacts"),
           "FRAGILITY_PUBLIC_READ": "0" if with_key else "1", "FRAGILITY_RATE_LIMIT": "100000000/minute",
           "FRAGILITY_LOG_LEVEL": "WARNING"}
    return env, key


async def hammer(base: str, path: str, params: dict, clients: int, seconds: float, headers: dict,
                 body: dict | None = None) -> dict:
    """Return throughput and latency of `clients` concurrent loops hitting `path` for `seconds` (GET with
    `params`, or POST of `body`)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await (client.post(path, json=body) if body is not None
                                  else client.get(path, params=params))
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {"endpoint": path, "clients": clients, "requests": len(latencies), "errors": errors,
            "seconds": round(elapsed, 2), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def profile_server(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    """Return a running py-spy recording of process `pid` for `seconds` into `out` (raw collapsed stacks), or
    None when py-spy is not installed."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print(json.dumps({"profile": "py-spy not installed (pip install py-spy): no profile"}), flush=True)
        return None
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250",
                             "--gil", "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_functions(raw: Path, limit: int = 15) -> list[dict]:
    """Return the busiest functions in py-spy's raw collapsed-stack output: the `limit` with the most samples
    at the top of the stack (self share), then the `limit` of our own code (service/) most often on the stack
    (inclusive share). Shares are of the samples of the thread holding the GIL (py-spy --gil), i.e. of where
    the server process spends its Python time."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            if "service/" in frame:
                inclusive[frame] = inclusive.get(frame, 0) + int(count)
    rows = []
    for kind, counts in (("self", own), ("inclusive, service/", inclusive)):
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:limit]
        rows += [{"kind": kind, "share": round(n / max(total, 1), 3), "frame": frame} for frame, n in ranked]
    return rows


def question_bodies(base: str, panel: dict, headers: dict) -> dict[str, dict]:
    """Return the probability and spillover question bodies of the bench (a threshold with doubt about it)."""
    target = panel["target"]
    forecast = httpx.get(f"{base}/v1/models/bench/forecast", params={"region": target, "horizon": 6,
                         "quantiles": "0.75"}, timeout=60, headers=headers).json()
    threshold = float(int(max(step["quantiles"]["0.75"] for step in forecast["steps"])) + 1)  # a question with doubt
    return {"probability": {"region": target, "threshold": threshold, "horizon": 6},
            "spillover": {"source": panel["source"], "target": target, "threshold": threshold, "horizon": 6}}


def run_open_loop(base: str, panel: dict, rates: list[float], seconds: float, headers: dict, server_pid: int,
                  profile_seconds: float) -> None:
    """Print one open-loop row per endpoint and rate (questions warmed first), an optional server profile, and
    a summary against the target (forecast p99 < 50 ms at 100 requests/s); returns nothing."""
    forecast_params = {"region": panel["source"], "horizon": 6, "quantiles": "0.05,0.5,0.95"}
    asks = question_bodies(base, panel, headers)
    for name, body in asks.items():  # the first answer simulates grids: measured by the closed-loop mode
        began = time.perf_counter()
        first = httpx.post(f"{base}/v1/models/bench/{name}", json=body, timeout=300, headers=headers)
        assert first.status_code == 200, first.text
        print(json.dumps({"warmed": name, "first_answer_ms": round((time.perf_counter() - began) * 1000, 1)}),
              flush=True)
    endpoints = [("/healthz", None, {}), ("/v1/models/bench/forecast", None, forecast_params)]
    endpoints += [(f"/v1/models/bench/{name}", body, {}) for name, body in asks.items()]
    if profile_seconds > 0:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            spy = profile_server(server_pid, profile_seconds, raw)
            if spy is not None:
                time.sleep(0.5)
                row = asyncio.run(open_loop(base, endpoints[1][0], rates[0], profile_seconds, headers,
                                            params=forecast_params))
                spy.wait(timeout=profile_seconds + 60)
                print(json.dumps(row | {"profiled": True}), flush=True)
                if raw.exists():
                    for item in top_functions(raw):
                        print(json.dumps({"profile": endpoints[1][0], **item}), flush=True)
    forecast_rows = {}
    for rate in rates:
        for path, body, params in endpoints:
            row = asyncio.run(open_loop(base, path, rate, seconds, headers, body=body, params=params))
            print(json.dumps(row), flush=True)
            if path == endpoints[1][0]:
                forecast_rows[rate] = row
    at_100 = forecast_rows.get(100.0)
    print(json.dumps({"summary": "open loop, forecast", "target": "p99 < 50 ms at 100 requests/s",
                      "p99_ms_by_rate": {str(r): row["p99_ms"] for r, row in forecast_rows.items()},
                      "met": None if at_100 is None else bool(at_100["p99_ms"] < 50 and at_100["errors"] == 0)}),
          flush=True)


def main() -> None:
    """Run the benchmark and print one JSON line per endpoint and a summary line; returns nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2, help="alternating healthz/forecast rounds")
    parser.add_argument("--with-key", action="store_true", help="send a read key instead of public reads")
    parser.add_argument("--panel", choices=sorted(PANELS), default="tiny", help="the data the model is fitted on")
    parser.add_argument("--question-clients", type=int, default=4, help="concurrent clients asking questions")
    parser.add_argument("--open-loop", action="store_true", help="fixed request rates instead of closed loops")
    parser.add_argument("--rates", default="50,100,200", help="open loop: requests per second, comma-separated")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="open loop: record the server with py-spy during a forecast run this long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        env, key = prepare(Path(tmp), args.with_key, args.panel)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        print(json.dumps({"setup": f"{PANELS[args.panel]['what']}, one real fit promoted "
                                   "(gate relaxed: serving is measured)",
                          "setup_seconds": round(time.perf_counter() - began, 1),
                          "auth": "read key" if key else "public read",
                          "load_average": os.getloadavg()[0], "cores": os.cpu_count()}), flush=True)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER.replace("{port}", str(port))], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            first = httpx.get(f"{base}/v1/models/bench/forecast", params={"region": PANELS[args.panel]["source"],
                              "horizon": 6}, timeout=60, headers=headers)
            assert first.status_code == 200, first.text
            if args.open_loop:
                rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
                run_open_loop(base, PANELS[args.panel], rates, args.seconds, headers, server.pid, args.profile)
            else:
                closed_loop(base, args, headers)
        finally:
            server.terminate()
            server.wait(timeout=20)


def closed_loop(base: str, args: argparse.Namespace, headers: dict) -> None:
    """Print the closed-loop rows (alternating /healthz and forecast rounds of `args.clients` loops), their
    summary, and the questions' first answer and warm p50/p99; returns nothing."""
    forecast = ("/v1/models/bench/forecast", {"region": PANELS[args.panel]["source"], "horizon": 6,
                                              "quantiles": "0.05,0.5,0.95"})
    results: dict[str, list[dict]] = {"/healthz": [], forecast[0]: []}
    for _ in range(args.rounds):
        for path, params in (("/healthz", {}), forecast):
            row = asyncio.run(hammer(base, path, params, args.clients, args.seconds, headers))
            results[path].append(row)
            print(json.dumps(row), flush=True)
    best = {path: max(rows, key=lambda r: r["rps"]) for path, rows in results.items()}
    ratio = best[forecast[0]]["rps"] / best["/healthz"]["rps"]
    print(json.dumps({"summary": "forecast vs healthz (best round each)", "ratio_rps": round(ratio, 3),
                      "forecast_p99_ms": best[forecast[0]]["p99_ms"],
                      "target": "ratio >= 0.5 and p99 < 50 ms",
                      "met": bool(ratio >= 0.5 and best[forecast[0]]["p99_ms"] < 50)}), flush=True)
    for row in questions(base, PANELS[args.panel], args.question_clients, args.seconds, headers):
        print(json.dumps(row), flush=True)


def questions(base: str, panel: dict, clients: int, seconds: float, headers: dict) -> list[dict]:
    """Return, for the probability and spillover questions, a row with the first answer's latency (simulating
    the question's posterior grids) and the warm-cache p50/p99 of `clients` concurrent askers."""
    asks = question_bodies(base, panel, headers)
    rows = []
    for name, body in asks.items():
        path = f"/v1/models/bench/{name}"
        began = time.perf_counter()
        first = httpx.post(base + path, json=body, timeout=300, headers=headers)
        cold_ms = (time.perf_counter() - began) * 1000
        assert first.status_code == 200, first.text
        row = asyncio.run(hammer(base, path, {}, clients, seconds, headers, body=body))
        rows.append(row | {"first_answer_ms": round(cold_ms, 1), "threshold": body["threshold"],
                           "target": "warm p99 < 1000 ms" if name == "spillover" else None,
                           "met": bool(row["p99_ms"] < 1000) if name == "spillover" else None})
    return rows


if __name__ == "__main__":
    main()

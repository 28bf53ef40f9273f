"""Region validation time against the number of neighbours (issue 19, item 1: it must grow linearly).

Library: `validate_regions` without a cap on a hub listing N leaves that list it back (N + 1 regions,
2N edge entries), for N doubling from 5,000. Linear means `microseconds_per_neighbour` stays about flat
(it was quadratic: 16 s for one region of 40,000 neighbours). HTTP: POST /v1/regions of one region with
N distinct neighbours to a `fragility serve` process on each backend, refused by the neighbour cap (422).
Prints one JSON line per measurement:
{"bench":"regions","path":"library"|"http","backend":...,"neighbours":...,"status":...,"seconds":...,
 "microseconds_per_neighbour":...}

Usage: python bench/regions.py [--sizes 5000,10000,20000,40000,80000] [--backends sqlite,pg] [--no-http|--no-library]
Needs PostgreSQL at 127.0.0.1:5432 (user postgres) for the pg backend.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.ingest import database, seed_catalogue, server
from indicators import validate_regions


def hub_and_leaves(n: int) -> list[dict]:
    """Return a hub region listing n leaves, each leaf listing the hub back."""
    hub = {"id": "HUB", "name": "Hub", "neighbours": [f"L{i}" for i in range(n)]}
    return [hub, *({"id": f"L{i}", "name": f"Leaf {i}", "neighbours": ["HUB"]} for i in range(n))]


def report(path: str, backend: str | None, neighbours: int, status: int | None, seconds: float) -> None:
    """Print one JSON result line; returns nothing."""
    print(json.dumps({"bench": "regions", "path": path, "backend": backend, "neighbours": neighbours,
                      "status": status, "seconds": round(seconds, 4),
                      "microseconds_per_neighbour": round(seconds / neighbours * 1e6, 3)}), flush=True)


def bench_library(sizes: list[int]) -> None:
    """Time validate_regions (no cap) on a hub of each size."""
    for n in sizes:
        regions = hub_and_leaves(n)
        started = time.perf_counter()
        checked = validate_regions(regions)
        seconds = time.perf_counter() - started
        assert len(checked[0].neighbours) == n
        report("library", None, n, None, seconds)


def bench_http(backend: str, sizes: list[int]) -> None:
    """Time the answer to one region with n distinct (unknown) neighbours posted to a server on `backend`."""
    with database(backend) as url:
        key = seed_catalogue(url)
        with server(url) as base, httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                                               timeout=600) as client:
            for n in sizes:
                body = {"regions": [{"id": "BIG", "name": "Big", "neighbours": [f"N{i}" for i in range(n)]}]}
                started = time.perf_counter()
                answer = client.post("/v1/regions", json=body)
                report("http", backend, n, answer.status_code, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,40000,80000")
    parser.add_argument("--backends", default="sqlite,pg")
    parser.add_argument("--no-http", action="store_true", help="only time the library")
    parser.add_argument("--no-library", action="store_true", help="only time the HTTP answers")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not args.no_library:
        bench_library(sizes)
    if not args.no_http:
        for backend in args.backends.split(","):
            bench_http(backend, sizes)


if __name__ == "__main__":
    main()

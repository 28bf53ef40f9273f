"""Wall time of a backtest on a Dask LocalCluster of 1, 2, 4 ... worker processes and on the process pool, in one run.

    python bench/scaling.py [--data CSV] [--regions JSON] [--indicator ged_deaths_sb] [--origins 4] [--step 12]
                            [--horizons 3,...,14] [--forecasters model,no_spillover] [--workers 1,2,4] [--pool 2]
                            [--draws 500] [--tune 500] [--chains 1] [--seed 1]

    # the Middle East panel (default), the ViEWS 2023/24 challenge protocol: 4 origins a year apart, steps 3..14
    python bench/scaling.py
    # the world panel (191 countries; about 10 min per configuration on 2 cores)
    python bench/scaling.py --data ../shared/data/ucdp-state-based-deaths-world-country-month.csv \\
        --regions ../shared/data/regions-world.json

Every configuration runs the same backtest (the model and its no-spillover twin at every origin: one task per
(forecaster, origin), as bench/skill.py and the service's backtest jobs submit them) on a fresh executor: a
LocalCluster with n worker processes of one thread each, then a spawned process pool. Before the clock starts,
every worker process fits the model once with a few draws, so each configuration is timed warm (a new process
compiles nutpie's sampler wrapper once; that cost is printed as `warmup_seconds`, not in the wall time).

stdout: one JSON line per configuration: wall seconds, speedup and efficiency time(1) / (n * time(n)) against the
one-worker cluster, the largest number of tasks that ran at once (from each task's own start and end), the
worker addresses used, the load average before and after (the machine may be shared), whether the scores
equal those of the first configuration (they must: each task's seed depends only on --seed and its origin) and
the largest relative difference between them.
stderr: progress.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={Path.home() / '.cache' / 'fragility-pytensor'}")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.skill import DATA, load_panel
from models.evaluation.backtest import count_model_forecaster, origins_for, run_backtest

CHALLENGE_HORIZONS = ",".join(str(h) for h in range(3, 15))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA / "ucdp-state-based-deaths-country-month.csv")
    p.add_argument("--regions", type=Path, default=DATA / "regions-middle-east.json")
    p.add_argument("--indicator", default="ged_deaths_sb")
    p.add_argument("--origins", type=int, default=4)
    p.add_argument("--step", type=int, default=12, help="months between origins")
    p.add_argument("--horizons", default=CHALLENGE_HORIZONS, help="comma-separated steps; the longest is the horizon")
    p.add_argument("--forecasters", default="model,no_spillover", help="subset of model,no_spillover")
    p.add_argument("--workers", default="1,2,4", help="LocalCluster sizes (worker processes of one thread each)")
    p.add_argument("--pool", type=int, default=2, help="processes of the local pool (0: skip it)")
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=1)
    p.add_argument("--forecast-draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    args.horizons = sorted({int(h) for h in args.horizons.split(",") if h.strip()})
    args.workers = [int(n) for n in args.workers.split(",") if n.strip()]
    args.forecasters = [f.strip() for f in args.forecasters.split(",") if f.strip()]
    if set(args.forecasters) - {"model", "no_spillover"} or not args.workers or min(args.workers) < 1:
        p.error("--forecasters is a subset of model,no_spillover; --workers lists positive integers")
    return args


def warm(panel, indicator: str, origin: str, spillovers: tuple[bool, ...]) -> float:
    """Return the seconds of one tiny fit per model variant in this process (compiles the sampler wrappers a new
    process lacks)."""
    began = time.perf_counter()
    for spillover in spillovers:
        forecaster = count_model_forecaster(spillover, draws=20, tune=20, chains=1, forecast_draws=20)
        forecaster(panel.until(origin), indicator, 1, 0)
    return time.perf_counter() - began


def spillovers(forecasters: dict) -> tuple[bool, ...]:
    """Return the spillover flag of each model variant in `forecasters`."""
    return tuple(sorted({f.spillover for f in forecasters.values()}))


def max_concurrent(tasks: list[dict]) -> int:
    """Return the largest number of tasks whose [started, ended] intervals overlap at one instant."""
    events = sorted([(t["started"], 1) for t in tasks] + [(t["ended"], -1) for t in tasks], key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def timed_backtest(submit, panel, args, forecasters: dict, origins: list[str]) -> tuple[float, object]:
    """Return (wall seconds, BacktestResult) of the backtest with every task submitted through `submit`."""
    began = time.perf_counter()

    def progress(done: int, total: int, outcome) -> None:
        print(f"  [{done}/{total}] {outcome.forecaster} at {outcome.origin} on {outcome.worker} "
              f"{outcome.seconds:.1f} s", file=sys.stderr, flush=True)

    result = run_backtest(panel, args.indicator, forecasters, origins, max(args.horizons), submit=submit,
                          progress=progress, seed=args.seed, horizons=args.horizons)
    return time.perf_counter() - began, result


def on_cluster(n: int, panel, args, forecasters: dict, origins: list[str]) -> dict:
    """Return the figures of the backtest on a fresh LocalCluster of `n` single-threaded worker processes."""
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        warmed = client.run(warm, panel, args.indicator, origins[0], spillovers(forecasters))
        setup = time.perf_counter() - started
        load_before = os.getloadavg()
        wall, result = timed_backtest(lambda fn, *a: client.submit(fn, *a, pure=False), panel, args, forecasters,
                                      origins)
    return figures(f"dask:{n}", n, wall, result, load_before, setup, max(warmed.values()))


def on_pool(n: int, panel, args, forecasters: dict, origins: list[str]) -> dict:
    """Return the figures of the backtest on a fresh spawned process pool of `n` processes."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
        warmups = [pool.submit(warm, panel, args.indicator, origins[0], spillovers(forecasters)) for _ in range(n)]
        wait(warmups)
        setup = time.perf_counter() - started
        load_before = os.getloadavg()
        wall, result = timed_backtest(pool.submit, panel, args, forecasters, origins)
    return figures(f"pool:{n}", n, wall, result, load_before, setup, max(f.result() for f in warmups))


def figures(config: str, n: int, wall: float, result, load_before, setup: float, warmup: float) -> dict:
    """Return the JSON-able figures of one configuration (speedup and efficiency are added by the caller)."""
    return {"config": config, "workers": n, "wall_seconds": round(wall, 1),
            "task_seconds_sum": round(sum(t["seconds"] or 0 for t in result.tasks), 1),
            "max_concurrent_tasks": max_concurrent(result.tasks),
            "workers_used": sorted({t["worker"] for t in result.tasks}), "failures": result.failures,
            "setup_seconds": round(setup, 1), "warmup_seconds": round(warmup, 1),
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
            "_pooled": result.pooled}


def largest_difference(pooled, first) -> float | None:
    """Return the largest relative difference between the numbers of two configurations' pooled scores (None
    when their shapes differ): 0 when they are equal, ~1e-15 for a different summation order."""
    def numbers(tree) -> list[float]:
        if isinstance(tree, dict):
            return [x for key in sorted(tree) for x in numbers(tree[key])]
        if isinstance(tree, (list, tuple)):
            return [x for item in tree for x in numbers(item)]
        return [float(tree)] if isinstance(tree, (int, float)) and not isinstance(tree, bool) else []

    a, b = numbers(pooled), numbers(first)
    if len(a) != len(b):
        return None
    return max((abs(x - y) / max(abs(x), abs(y), 1e-300) for x, y in zip(a, b) if x != y), default=0.0)


def main(argv: list[str] | None = None) -> int:
    """Run every configuration and print its JSON line; return the exit status (1 if a task failed)."""
    args = parse_args(argv)
    panel = load_panel(args.data, args.regions)
    origins = origins_for(panel, args.indicator, args.origins, args.step, max(args.horizons))
    options = dict(draws=args.draws, tune=args.tune, chains=args.chains, forecast_draws=args.forecast_draws)
    forecasters = {name: count_model_forecaster(name == "model", **options) for name in args.forecasters}
    print(f"{len(panel.regions)} regions x {len(panel.periods)} months; origins {origins}; "
          f"{len(forecasters) * len(origins)} tasks per configuration; {os.cpu_count()} cores", file=sys.stderr)
    runs = [(on_cluster, n) for n in args.workers] + ([(on_pool, args.pool)] if args.pool else [])
    first_wall, first_pooled, status = None, None, 0
    for run, n in runs:
        print(f"{run.__name__} {n}", file=sys.stderr, flush=True)
        line = run(n, panel, args, forecasters, origins)
        pooled = line.pop("_pooled")
        if first_wall is None:
            first_wall, first_pooled = line["wall_seconds"] * line["workers"], pooled
        line["speedup"] = round(first_wall / line["wall_seconds"], 2)
        line["efficiency"] = round(first_wall / (line["workers"] * line["wall_seconds"]), 2)
        line["same_scores_as_first"] = pooled == first_pooled
        line["largest_score_difference"] = largest_difference(pooled, first_pooled)
        status |= bool(line["failures"]) or not line["same_scores_as_first"]
        print(json.dumps(line), flush=True)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())

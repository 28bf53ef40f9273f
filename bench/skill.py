"""Forecast skill of the count model against every baseline on real monthly counts.

    python bench/skill.py [--data CSV] [--regions JSON] [--indicator ged_deaths_sb]
                          [--origins 12] [--step 3] [--horizons 1,3,6] [--seed 1]
                          [--forecasters model,no_spillover,zero,persistence,bootstrap]
                          [--draws 500] [--tune 500] [--chains 1] [--workers 2] [--out FILE]
                          [--model-options JSON]

    # the whole history of the Middle East panel (origins 2001-09..2021-06):
    python bench/skill.py --origins 80 --step 3
    # the ViEWS 2023/24 challenge protocol on the world panel (origins in October, steps 3..14), every
    # window 2005..2021 (--origins 4: the dev windows 2018..2021 only):
    python bench/skill.py --data ../shared/data/ucdp-state-based-deaths-world-country-month.csv \
        --regions ../shared/data/regions-world.json --challenge

The CSV goes through the same ingest validation as a user's upload (read_observations_csv,
validate_batch against a catalogue of the regions file and the file's indicators as counts),
then into a Panel over the land-border graph. Regions with no observation (PSE in the shared
data) stay in the graph but are not scored. Origins are `--step` months apart, the last one
the last month from which the longest horizon is still observed; every (forecaster, origin)
is one task on the executor: a local process pool, or the Dask cluster at
$FRAGILITY_DASK_SCHEDULER when it is set.

Scores per line: CRPS on counts and on log1p, Dawid-Sebastiani, PIT coverage of the 50% and 90%
intervals, the ViEWS 2023/24 challenge's ignorance score (`ign`: bins 0, 0.5, 2.5, ..., 1000.5, one
pseudo-count per bin, log2) and 90% interval score (`mis`), Brier scores of >= 1 and >= 25.

stdout: one JSON line per (forecaster, horizon), one `{"pooled": ...}` line per forecaster (every
given horizon together: the challenge's score), one `{"window": YEAR, "origin": ..., "forecaster": ...}` line
per forecaster and window (pooled scores of that window, `ratio` to the bootstrap, onset and ending Brier
scores: see models/backtest_windows.py), one `{"overall": ...}` line per forecaster over all windows,
then one summary line with the tail check (the
model's worst (origin, horizon) count-CRPS ratio to the bootstrap, its largest simulated value
against the largest ever observed), then a text table.
stderr: progress and notes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={Path.home() / '.cache' / 'fragility-pytensor'}")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from indicators import Catalogue, IndicatorKind, Panel, read_observations_csv, validate_batch
from indicators.loading import read_regions_json
from models.count.analogue import analogue_forecast
from models.evaluation.backtest import compare_to_baselines, count_model_forecaster, origins_for, run_backtest
from models.evaluation.baselines import BASELINES, bootstrap_forecast
from models.evaluation.combination import LearnedCombination

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LINE_KEYS = ("forecaster", "horizon", "crps", "crps_log1p", "dss", "coverage50", "coverage90",
             "hit90_closed", "ign", "mis", "brier_1", "brier_25", "n")
ALL_FORECASTERS = ("model", "no_spillover", "zero", "persistence", "bootstrap", "analogue", "combined")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA / "ucdp-state-based-deaths-country-month.csv")
    p.add_argument("--regions", type=Path, default=DATA / "regions-middle-east.json")
    p.add_argument("--indicator", default="ged_deaths_sb")
    p.add_argument("--challenge", action="store_true",
                   help="the ViEWS challenge protocol over every October origin: --step 12, --horizons 3..14, "
                        "--origins 17 unless given (world file: windows 2005..2021); one line per window")
    p.add_argument("--origins", type=int, default=None,
                   help="number of forecast origins (default 12; 80 with --step 3 reaches back to 2001)")
    p.add_argument("--step", type=int, default=3, help="months between origins (12: one origin a year)")
    p.add_argument("--horizons", default="1,3,6", help="comma-separated steps to report; the longest is the horizon")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--forecasters", default=",".join(ALL_FORECASTERS), help=f"subset of {','.join(ALL_FORECASTERS)}")
    p.add_argument("--draws", type=int, default=500, help="posterior draws per chain of each model fit")
    p.add_argument("--tune", type=int, default=500, help="tuning steps per chain of each model fit")
    p.add_argument("--chains", type=int, default=1,
                   help="chains per fit (1: two single-chain fits run side by side on 2 cores, measured fastest)")
    p.add_argument("--sampler", default="nutpie")
    p.add_argument("--forecast-draws", type=int, default=1000, help="simulated paths per origin")
    p.add_argument("--workers", type=int, default=2, help="processes running origins in parallel")
    p.add_argument("--out", type=Path, default=None, help="also write the full result (with per-region rows) as JSON")
    p.add_argument("--model-options", type=json.loads, default={},
                   help='JSON options for CountModel of the model and its twin, e.g. \'{"persistence": "stationary"}\'')
    args = p.parse_args(argv)
    if args.challenge:
        args.step, args.horizons = 12, ",".join(str(h) for h in range(3, 15))
    args.origins = args.origins or (17 if args.challenge else 12)
    args.horizons = sorted({int(h) for h in args.horizons.split(",") if h.strip()})
    args.forecasters = [f.strip() for f in args.forecasters.split(",") if f.strip()]
    unknown = sorted(set(args.forecasters) - set(ALL_FORECASTERS))
    if unknown or not args.horizons or min(args.horizons) < 1:
        p.error(f"unknown forecaster(s) {unknown}; choose from {ALL_FORECASTERS}" if unknown
                else "--horizons must list positive integers, e.g. 1,3,6")
    return args


def load_panel(data: Path, regions_path: Path) -> Panel:
    """Return the Panel of the CSV after the same validation a user's upload goes through."""
    regions = read_regions_json(regions_path.read_bytes())
    rows = read_observations_csv(data.read_bytes())
    indicators = {str(row.get("indicator", "")) for row in rows}
    catalogue = Catalogue(regions={r["id"] for r in regions}, indicators={i: IndicatorKind.COUNT for i in indicators})
    observations = validate_batch(rows, catalogue=catalogue)
    return Panel.from_observations(observations, regions=regions)


def build_forecasters(args: argparse.Namespace) -> dict:
    """Return name -> forecaster for the chosen names, model fits first (they take longest)."""
    options = dict(draws=args.draws, tune=args.tune, chains=args.chains, sampler=args.sampler,
                   forecast_draws=args.forecast_draws, **args.model_options)
    every = {"model": count_model_forecaster(True, **options),
             "no_spillover": count_model_forecaster(False, **options), **BASELINES,
             "analogue": analogue_forecast,
             "combined": LearnedCombination((("analogue", analogue_forecast), ("bootstrap", bootstrap_forecast)))}
    return {name: every[name] for name in ALL_FORECASTERS if name in args.forecasters}


def print_table(scores: list[dict], out=sys.stdout) -> None:
    """Print the score rows as a fixed-width text table."""
    cols = ("crps", "crps_log1p", "ign", "mis", "coverage50", "coverage90", "hit90_closed", "brier_25")
    print(f"{'forecaster':<13}{'h':>3}" + "".join(f"{c:>13}" for c in cols) + f"{'n':>6}", file=out)
    for row in scores:
        cells = "".join(f"{'-' if row[c] is None else format(row[c], '.4g'):>13}" for c in cols)
        print(f"{row['forecaster']:<13}{row['horizon']:>3}{cells}{row['n']:>6}", file=out)


@contextmanager
def executor(workers: int):
    """Yield a ``submit(fn, *args)``: the Dask cluster at $FRAGILITY_DASK_SCHEDULER, else a local process pool."""
    address = os.environ.get("FRAGILITY_DASK_SCHEDULER")
    if address:
        from distributed import Client

        with Client(address) as client:
            print(f"running tasks on the Dask cluster at {address}", file=sys.stderr)
            yield lambda fn, *args: client.submit(fn, *args, pure=False)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield pool.submit


def main(argv: list[str] | None = None) -> int:
    """Run the backtest and print its lines; return the exit status."""
    args = parse_args(argv)
    began = time.perf_counter()
    panel = load_panel(args.data, args.regions)
    values = panel.values(args.indicator)
    unscored = [r for r, row in zip(panel.regions, values) if not np.isfinite(row).any()]
    horizon = max(args.horizons)
    origins = origins_for(panel, args.indicator, args.origins, args.step, horizon)
    forecasters = build_forecasters(args)
    print(f"{len(panel.regions)} regions, {len(panel.periods)} months; origins {origins[0]}..{origins[-1]} "
          f"({len(origins)}); not scored (no observations, kept in the graph): {unscored or 'none'}", file=sys.stderr)

    last_print = [0.0]

    def progress(done: int, total: int, outcome) -> None:
        now = time.perf_counter() - began
        if done == total or now - last_print[0] >= 2.0:
            last_print[0] = now
            print(f"[{done:>3}/{total} tasks] {now:7.1f} s (last: {outcome.forecaster} at {outcome.origin} "
                  f"on {outcome.worker or 'a lost worker'})", file=sys.stderr, flush=True)

    with executor(args.workers) as submit:
        result = run_backtest(panel, args.indicator, forecasters, origins, horizon, submit=submit,
                              progress=progress, seed=args.seed, horizons=args.horizons)
    for failure in result.failures:
        print(f"FAILED {failure['forecaster']} at {failure['origin']}: {failure['error']}", file=sys.stderr)
    for row in result.scores:
        print(json.dumps({key: row[key] for key in LINE_KEYS}))
    for row in result.pooled:
        print(json.dumps({"pooled": row}))
    for row in result.windows:
        print(json.dumps(row))
    for row in result.overall:
        print(json.dumps({"overall": row}))
    model_seconds = result.seconds.get("model") or []
    summary = (compare_to_baselines(result, "model", [b for b in forecasters if b != "model"])
               if "model" in forecasters else {})
    print(json.dumps({"summary": summary, "tail": result.tail,
                      "fit_seconds_median": round(statistics.median(model_seconds), 1) if model_seconds else None,
                      "wall_seconds": round(time.perf_counter() - began, 1)}))
    print_table(result.scores)
    if args.out:
        args.out.write_text(json.dumps({**result.to_dict(), "unscored_regions": unscored}, indent=1))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())

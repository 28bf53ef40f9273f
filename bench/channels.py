"""The spillover channels a real panel supports: the served count model's most probable channels (issue 27).

    python bench/channels.py                       # the Middle East panel, fitted to its last month
    python bench/channels.py --data ../shared/data/ucdp-state-based-deaths-world-country-month.csv \
        --regions ../shared/data/regions-world.json

Fits the default count model (the served form: horseshoe neighbour coefficient, learned combination) to the
whole panel, then screens: the `--screen` targets with the highest posterior probability that their neighbour
coefficient exceeds 0.02 (`p_phi`), and for each of them every neighbour with a death in its last 12 months (a
silent neighbour carries nothing). Each screened channel is asked the library's spillover question at one
threshold: "does the target reach k within `--horizon` months", k one above the 75th percentile of the target's
last 24 months (at least 1: for a quiet target, any death). Its `channel_probability` is the posterior
probability that the channel adds more than one point to that probability.

stdout: one JSON line for the fit (seconds, diagnostics), one per screened channel, then a text table of the
`--top` channels by channel_probability (ties by attributable). stderr: progress.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={Path.home() / '.cache' / 'fragility-pytensor'}")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.skill import DATA, load_panel
from models import CountModel

PHI_SIZE = 0.02


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA / "ucdp-state-based-deaths-country-month.csv")
    p.add_argument("--regions", type=Path, default=DATA / "regions-middle-east.json")
    p.add_argument("--indicator", default="ged_deaths_sb")
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--horizon", type=int, default=6)
    p.add_argument("--screen", type=int, default=12, help="targets screened by p_phi")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def threshold_of(recent: np.ndarray) -> float:
    """Return the question's threshold for a target: one above the 75th percentile of its recent months, >= 1."""
    recent = recent[np.isfinite(recent)]
    return max(1.0, float(np.floor(np.percentile(recent, 75)) + 1)) if recent.size else 1.0


def screened_channels(fit, values: np.ndarray, screen: int) -> list[tuple[str, str, float]]:
    """Return (source, target, p_phi) for the `screen` targets most likely to have a channel and each of their
    neighbours with a death in the last 12 months."""
    phi = fit.posterior["posterior"]["phi"].stack(sample=("chain", "draw")).values  # (region, sample)
    p_phi = (phi > PHI_SIZE).mean(axis=1)
    weights = np.asarray(fit.state["weights"])
    active = np.nan_to_num(values[:, -12:], nan=0.0).max(axis=1) > 0
    order = [t for t in np.argsort(-p_phi) if fit.state["has_ne"][t]][:screen]
    return [(fit.regions[s], fit.regions[t], float(p_phi[t])) for t in order
            for s in np.flatnonzero((weights[:, t] > 0) & active) if s != t]


def main(argv: list[str] | None = None) -> int:
    """Run the fit and the screened questions; return the exit code."""
    args = parse_args(argv)
    panel = load_panel(args.data, args.regions)
    values = np.asarray(panel.values(args.indicator), dtype=float)
    began = time.perf_counter()
    fit = CountModel(args.indicator).fit(panel, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed)
    d = fit.diagnostics
    print(json.dumps({"fit_seconds": round(time.perf_counter() - began, 1), "regions": len(fit.regions),
                      "last_month": panel.periods[-1], "rhat_max": d["rhat_max"], "ess_bulk_min": d["ess_bulk_min"],
                      "divergences": d["divergences"]}), flush=True)
    rows = []
    channels = screened_channels(fit, values, args.screen)
    for i, (source, target, p_phi) in enumerate(channels, 1):
        threshold = threshold_of(values[fit.region_index(target), -24:])
        t0 = time.perf_counter()
        a = fit.spillover(source, target, threshold=threshold, horizon=args.horizon, seed=args.seed)
        row = {"source": source, "target": target, "threshold": threshold, "p_phi": round(p_phi, 3),
               "channel_probability": a.channel_probability, "attributable": round(a.attributable, 4),
               "attributable_interval": [round(x, 4) for x in a.attributable_interval],
               "probability": round(a.probability, 4), "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        print(f"[{i}/{len(channels)}] {source}->{target}", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: (-r["channel_probability"], -r["attributable"]))
    print(f"{'channel':<12}{'k':>6}{'P(channel)':>12}{'attributable':>14}  90% interval       p_phi")
    for r in rows[:args.top]:
        lo, hi = r["attributable_interval"]
        print(f"{r['source'] + '->' + r['target']:<12}{r['threshold']:>6.0f}{r['channel_probability']:>12.2f}"
              f"{r['attributable']:>+14.3f}  [{lo:+.3f}, {hi:+.3f}]  {r['p_phi']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

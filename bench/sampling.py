"""Time to a servable count-model fit: the project's default path against pm.sample() defaults.

    python bench/sampling.py [--regions 20] [--periods 120] [--scaling 10,50,200] [--seed 1]
                             [--no-baseline] [--pymc-nuts] [--form loglinear]
                             [--priors JSON] [--skip-warm] [--adaptation diag|draw_diag|low_rank]
                             [--tune N] [--draws N] [--panels N] [--real world|middle-east]

Servable = passes the gate (R-hat <= 1.01, bulk ESS >= 400, no divergences). Every line is JSON:
- "default": models.fit_servable with nutpie (compiled model cached in-process and reused with
  new data; draws raised only when ESS asks): cold (first compile in this process; the PyTensor
  disk cache is warm) then warm (compiled model reused), compile and sampling seconds apart;
- "pm_sample_defaults": the same PyMC model through pm.sample() with PyMC's defaults
  (nutpie via numba, 1000+1000, a fresh compile per call), retried with doubled draws until
  servable (at most 3 calls), as a user would;
- "pymc_nuts" (--pymc-nuts): PyMC's own NUTS, 1000+1000;
- "scaling": the default path (warm) at each region count of --scaling;
- with --panels N: "default_panels" and "pm_sample_panels", both paths on N more panels (seeds
  seed+2 ...), one row each, then a "summary" row: mean and median wall seconds of each path, the
  default path's first-run pass rate, and the ratio of the means. Whether the first run passes
  varies by panel, so one panel's ratio says little.
- with --real world (or middle-east): the real UCDP state-based deaths panel (191 or 25 countries; the
  model fits its last 120 months): the default path cold, warm on the panel a year shorter, then
  pm.sample() defaults on the same model and data (--no-baseline skips it); nothing synthetic.
Timings are wall seconds on a shared 2-core machine: noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={Path.home() / '.cache' / 'fragility-pytensor'}")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import warnings

import pymc as pm

from indicators import simulate_count_panel
from models import CountModel, compute_diagnostics, gate
from models.core.spec import NUTPIE_ADAPTATIONS
from models.fitting.gate import fit_servable

REAL_PANELS = {"world": ("ucdp-state-based-deaths-world-country-month.csv", "regions-world.json"),
               "middle-east": ("ucdp-state-based-deaths-country-month.csv", "regions-middle-east.json")}


def emit(**row) -> None:
    """Print one JSON line."""
    print(json.dumps(row, default=float), flush=True)


def default_path(model, panel, label: str, seed: int, **options) -> dict:
    """Run fit_servable (with `options`: adaptation, tune) and return the JSON row."""
    start = time.perf_counter()
    fit, attempts = fit_servable(model, panel, seed=seed, **options)
    wall = time.perf_counter() - start
    d = fit.diagnostics
    return {"path": "default", "label": label, "regions": len(panel.regions), "months": len(panel.periods),
            "servable": attempts[-1]["passed"], "wall_seconds": round(wall, 2),
            "compile_seconds": round(sum(a["compile_seconds"] for a in attempts), 2),
            "sampling_seconds": round(sum(a["sampling_seconds"] for a in attempts), 2),
            "attempts": attempts, "rhat_max": d["rhat_max"], "ess_bulk_min": d["ess_bulk_min"],
            "divergences": d["divergences"], "worst_ess_var": d["worst_ess_var"], "worst_rhat_var": d["worst_rhat_var"],
            "adaptation": fit.info["sampler"].get("adaptation"), "load": [round(x, 2) for x in os.getloadavg()]}


def pm_sample_path(model, panel, seed: int, nuts_sampler: str | None, max_calls: int = 3) -> dict:
    """Return the JSON row of pm.sample() (PyMC defaults, or nuts_sampler) until servable."""
    design, state, _ = model.prepare(panel)
    pm_model = model.build(model.data_arrays(design, state), list(panel.regions))
    draws, calls, start = 1000, [], time.perf_counter()
    for call in range(max_calls):
        kwargs = {"random_seed": seed + call, "progressbar": False, "draws": draws}
        if nuts_sampler:
            kwargs["nuts_sampler"] = nuts_sampler
        t0 = time.perf_counter()
        with pm_model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = pm.sample(**kwargs)
        seconds = time.perf_counter() - t0
        keep = [v.name for v in pm_model.free_RVs] + [v.name for v in pm_model.deterministics]
        tree = type(tree).from_dict({"posterior": tree["posterior"].to_dataset()[keep],
                                     "sample_stats": tree["sample_stats"].to_dataset()})
        d = compute_diagnostics(tree, sampling_seconds=seconds)
        result = gate(d)
        calls.append({"draws": draws, "seconds": round(seconds, 2), "passed": result.passed,
                      "rhat_max": d["rhat_max"], "ess_bulk_min": d["ess_bulk_min"], "divergences": d["divergences"]})
        if result.passed:
            break
        draws *= 2
    return {"path": "pm_sample_defaults" if not nuts_sampler else f"{nuts_sampler}_nuts",
            "regions": len(panel.regions), "months": len(panel.periods), "servable": calls[-1]["passed"],
            "wall_seconds": round(time.perf_counter() - start, 2), "calls": calls,
            "note": "compile is inside each call (pm.sample compiles every time)",
            "load": [round(x, 2) for x in os.getloadavg()]}


def compare_panels(model, args, options: dict) -> None:
    """Print one row per panel and path (default warm, pm.sample() defaults), then the summary row."""
    default_walls, pm_walls, first_passes = [], [], []
    for k in range(args.panels):
        seed = args.seed + 2 + k
        panel, _ = simulate_count_panel(args.regions, args.periods, seed=seed)
        row = default_path(model, panel, f"warm, panel seed {seed}", seed, **options)
        emit(**{**row, "path": "default_panels"})
        default_walls.append(row["wall_seconds"])
        first_passes.append(row["attempts"][0]["passed"])
        if not args.no_baseline:
            row = pm_sample_path(model, panel, seed, None)
            emit(**{**row, "path": "pm_sample_panels", "panel_seed": seed})
            pm_walls.append(row["wall_seconds"])
    summary = {"path": "summary", "panels": args.panels, "default_mean": statistics.fmean(default_walls),
               "default_median": statistics.median(default_walls),
               "first_run_pass_rate": sum(first_passes) / len(first_passes)}
    if pm_walls:
        summary.update(pm_sample_mean=statistics.fmean(pm_walls), pm_sample_median=statistics.median(pm_walls),
                       ratio_of_means=statistics.fmean(pm_walls) / statistics.fmean(default_walls))
    emit(**{k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()})


def compare_real(name: str, args, options: dict, priors) -> None:
    """Print the default path's rows (cold, then warm on the panel a year shorter) and pm.sample()'s on a real panel."""
    from bench.skill import DATA, load_panel

    data, regions = REAL_PANELS[name]
    panel = load_panel(DATA / data, DATA / regions)
    model = CountModel("ged_deaths_sb", priors=priors, **({"form": args.form} if args.form else {}))
    shorter = panel.until(panel.periods[-13])
    emit(bench="sampling", panel=name, regions=len(panel.regions), months_in_data=len(panel.periods),
         fit_months=model.spec.options.get("fit_months"), end=panel.end, form=model.spec.form, options=options)
    emit(**{**default_path(model, panel, f"{name}: cold (first compile in process)", args.seed, **options),
            "end": panel.end})
    emit(**{**default_path(model, shorter, f"{name}: warm (compiled model reused, a year shorter)", args.seed,
                           **options), "end": shorter.end})
    if not args.no_baseline:
        emit(**{**pm_sample_path(model, panel, args.seed, None), "panel": name, "end": panel.end})


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print JSON lines."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--regions", type=int, default=20)
    p.add_argument("--periods", type=int, default=120)
    p.add_argument("--scaling", default="10,50,200")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--form", default=None, help="count form (default: the model's default)")
    p.add_argument("--no-baseline", action="store_true", help="skip pm.sample() defaults")
    p.add_argument("--pymc-nuts", action="store_true", help="also run PyMC's own NUTS")
    p.add_argument("--priors", default=None,
                   help='prior overrides as JSON, e.g. \'{"spillover": {"global_scale": 0.05}}\' (default: none)')
    p.add_argument("--skip-warm", action="store_true", help="skip the 20-region cold/warm default rows")
    p.add_argument("--adaptation", default=None, choices=NUTPIE_ADAPTATIONS,
                   help="nutpie mass-matrix adaptation of the default path (default: fit_servable's)")
    p.add_argument("--tune", type=int, default=None, help="tuning steps of the default path (default: fit_servable's)")
    p.add_argument("--draws", type=int, default=None,
                   help="draws per chain of the default path's runs (default: fit_servable's)")
    p.add_argument("--panels", type=int, default=0, help="also compare both paths on this many more panels (warm)")
    p.add_argument("--real", choices=sorted(REAL_PANELS), default=None,
                   help="only compare both paths on this real panel (UCDP deaths in ../shared/data)")
    args = p.parse_args(argv)
    options = {k: v for k, v in (("adaptation", args.adaptation), ("tune", args.tune), ("draws", args.draws))
               if v is not None}
    priors = json.loads(args.priors) if args.priors else None
    if args.real:
        compare_real(args.real, args, options, priors)
        return 0
    model = CountModel("attacks", priors=priors, **({"form": args.form} if args.form else {}))
    emit(bench="sampling", form=model.spec.form, priors=model.spec.priors, options=options,
         machine="2 cores, shared with other jobs: timings noisy")
    panel, _ = simulate_count_panel(args.regions, args.periods, seed=args.seed)
    if not args.skip_warm:
        emit(**default_path(model, panel, "cold (first compile in process, disk cache warm)", args.seed, **options))
        emit(**default_path(model, simulate_count_panel(args.regions, args.periods, seed=args.seed + 1)[0],
                            "warm (compiled model reused with new data)", args.seed, **options))
    if not args.no_baseline:
        emit(**pm_sample_path(model, panel, args.seed, None))
    if args.pymc_nuts:
        emit(**pm_sample_path(model, panel, args.seed, "pymc", max_calls=1))
    if args.panels:
        compare_panels(model, args, options)
    for n in [int(x) for x in args.scaling.split(",") if x.strip()]:
        scaled, _ = simulate_count_panel(n, args.periods, seed=args.seed)
        row = default_path(model, scaled, "scaling (cold compile for this region count)", args.seed, **options)
        emit(**{**row, "path": "scaling"})
    return 0


if __name__ == "__main__":
    sys.exit(main())

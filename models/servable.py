"""Fit until the promotion gate passes: one short run first, then more chains pooled with it when needed."""

from __future__ import annotations

import time

import xarray as xr

from models.diagnostics import compute_diagnostics, gate
from models.fit import Fit


def pool_chains(fits: list[Fit]) -> Fit:
    """Return one Fit whose posterior holds every chain of `fits` (same model, same data), with
    diagnostics recomputed over all chains and the seconds of every run added up."""
    if len(fits) == 1:
        return fits[0]
    groups = {}
    for group in ("posterior", "sample_stats"):
        parts = [f.posterior[group].to_dataset() for f in fits]
        merged = xr.concat(parts, dim="chain", coords="minimal", compat="override", join="override")
        groups[group] = merged.assign_coords(chain=range(merged.sizes["chain"]))
    tree = xr.DataTree.from_dict(groups)
    diagnostics = compute_diagnostics(tree, sampling_seconds=sum(f.diagnostics["sampling_seconds"] for f in fits),
                                      compile_seconds=sum(f.diagnostics["compile_seconds"] for f in fits))
    last = fits[-1]
    info = {**last.info, "sampler": {**last.info.get("sampler", {}), "chains": int(tree["posterior"].sizes["chain"])}}
    return Fit(spec=last.spec, posterior=tree, data_hash=last.data_hash, regions=last.regions,
               last_period=last.last_period, state=last.state, info=info, diagnostics=diagnostics)


def fit_servable(model, panel, *, draws: int = 1000, tune: int = 400, chains: int = 2, seed: int = 1,
                 sampler: str = "nutpie", max_attempts: int = 3,
                 max_rhat: float = 1.01, min_ess_bulk: float = 400, max_divergences: int = 0):
    """Return (fit, attempts): the first run is `chains` x (400 tuning + 1000 draws: in bench/sampling.py
    2 x 800 gave bulk ESS 350-414 on the worst parameter, log_alpha_scale, so half the first runs
    missed 400); while the gate
    fails, `chains` more chains of the same length (new seed, the compiled model reused) are pooled
    with every chain so far, so a near miss costs one more short run, not a longer refit, and each
    run adds its ESS to the pool. At most `max_attempts` runs. `attempts` lists per run
    {draws, tune, chains_total, seconds, compile_seconds, sampling_seconds, passed, reasons, rhat_max,
    ess_bulk_min}, judged on the pooled chains. The last pooled fit is returned even when it never
    passed (its gate result says why). Measured in bench/sampling.py (models/NOTES_count_model.md)."""
    attempts, fits = [], []
    pooled = None
    for attempt in range(max_attempts):
        start = time.perf_counter()
        fits.append(model.fit(panel, draws=draws, tune=tune, chains=chains, seed=seed + attempt, sampler=sampler))
        pooled = pool_chains(fits)
        result = gate(pooled.diagnostics, max_rhat=max_rhat, min_ess_bulk=min_ess_bulk, max_divergences=max_divergences)
        attempts.append({"draws": draws, "tune": tune, "chains_total": chains * len(fits),
                         "seconds": round(time.perf_counter() - start, 2),
                         "compile_seconds": fits[-1].diagnostics["compile_seconds"],
                         "sampling_seconds": fits[-1].diagnostics["sampling_seconds"],
                         "passed": result.passed, "reasons": result.reasons,
                         "rhat_max": pooled.diagnostics["rhat_max"], "ess_bulk_min": pooled.diagnostics["ess_bulk_min"]})
        if result.passed:
            break
    return pooled, attempts

"""Sampling diagnostics of a posterior (the verdict on them is models.gate)."""

from __future__ import annotations

import math
import warnings

import arviz as az
import numpy as np
import xarray as xr


def _worst(values: xr.Dataset, pick: str, constant: dict[str, np.ndarray]) -> tuple[float, str]:
    """Return the largest (pick="max") or smallest value over every variable, ignoring elements
    whose draws are all equal (e.g. phi of a region without neighbours): NaN elsewhere wins."""
    best_val, best_name = (math.nan, "")
    for name, arr in values.data_vars.items():
        data = np.asarray(arr.values, dtype=float).ravel()
        data = data[~constant[str(name)].ravel()]
        if data.size == 0:
            continue
        if np.isnan(data).any():
            return math.nan, str(name)
        val = float(data.max() if pick == "max" else data.min())
        if math.isnan(best_val) or (val > best_val if pick == "max" else val < best_val):
            best_val, best_name = val, str(name)
    return best_val, best_name


def compute_diagnostics(tree: xr.DataTree, *, sampling_seconds: float, compile_seconds: float = 0.0) -> dict:
    """Return the diagnostics dict of a posterior over its parameters (variables without an "obs" dim;
    elements constant across draws, such as phi of a region without neighbours, are left out).

    Keys: rhat_max, ess_bulk_min, ess_tail_min, divergences, seconds (compile + sampling),
    sampling_seconds, compile_seconds, ess_per_second (min bulk ESS / sampling seconds),
    worst_rhat_var, worst_ess_var, draws, chains. R-hat is NaN for a single chain.
    """
    post = tree["posterior"].to_dataset()
    post = post[[v for v in post.data_vars if "obs" not in post[v].dims]]
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    constant = {str(v): np.asarray(post[v].std(dim=("chain", "draw")).values == 0) for v in post.data_vars}
    with warnings.catch_warnings():  # constant elements give 0/0 inside arviz; they are left out below
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat_max, rhat_var = _worst(az.rhat(post), "max", constant) if chains > 1 else (math.nan, "")
        ess_bulk, ess_var = _worst(az.ess(post, method="bulk"), "min", constant)
        ess_tail, _ = _worst(az.ess(post, method="tail"), "min", constant)
    divergences = int(tree["sample_stats"]["diverging"].sum()) if "sample_stats" in tree.children else 0
    total = float(sampling_seconds) + float(compile_seconds)
    return {
        "rhat_max": rhat_max,
        "ess_bulk_min": ess_bulk,
        "ess_tail_min": ess_tail,
        "divergences": divergences,
        "seconds": round(total, 3),
        "sampling_seconds": round(float(sampling_seconds), 3),
        "compile_seconds": round(float(compile_seconds), 3),
        "ess_per_second": ((ess_bulk / sampling_seconds) if sampling_seconds > 0 and not math.isnan(ess_bulk)
                           else math.nan),
        "worst_rhat_var": rhat_var,
        "worst_ess_var": ess_var,
        "draws": draws,
        "chains": chains,
    }

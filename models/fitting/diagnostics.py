"""Sampling diagnostics of a posterior (the verdict on them is models.fitting.gate)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from models.fitting.convergence import summary


def _worst(values: np.ndarray, names: np.ndarray, pick: str) -> tuple[float, str]:
    """Return the largest (pick="max") or smallest value over the elements and its variable's name: the first
    NaN instead, if any (NaN means the diagnostic could not be computed, which must not pass a gate)."""
    if values.size == 0:
        return math.nan, ""
    nan = np.isnan(values)
    if nan.any():
        return math.nan, str(names[nan.argmax()])
    at = int(values.argmax() if pick == "max" else values.argmin())
    return float(values[at]), str(names[at])


def _elements(post: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Return (draws (chain, draw, element) of every variable's elements side by side, each element's variable
    name), leaving out elements whose draws are all equal (e.g. phi of a region without neighbours)."""
    blocks, names = [], []
    for name, arr in post.data_vars.items():
        values = np.asarray(arr.transpose("chain", "draw", ...).values, dtype=float)
        values = values.reshape(values.shape[0], values.shape[1], -1)
        varying = values.std(axis=(0, 1)) != 0
        blocks.append(values[:, :, varying])
        names.extend([str(name)] * int(varying.sum()))
    chains, draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    stacked = np.concatenate(blocks, axis=2) if blocks else np.empty((chains, draws, 0))
    return stacked, np.asarray(names, dtype=object)


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
    draws_of, names = _elements(post)
    rhats, ess_bulks, ess_tails = summary(draws_of)
    rhat_max, rhat_var = _worst(rhats, names, "max") if chains > 1 else (math.nan, "")
    ess_bulk_min, ess_var = _worst(ess_bulks, names, "min")
    ess_tail_min, _ = _worst(ess_tails, names, "min")
    divergences = int(tree["sample_stats"]["diverging"].sum()) if "sample_stats" in tree.children else 0
    total = float(sampling_seconds) + float(compile_seconds)
    return {
        "rhat_max": rhat_max,
        "ess_bulk_min": ess_bulk_min,
        "ess_tail_min": ess_tail_min,
        "divergences": divergences,
        "seconds": round(total, 3),
        "sampling_seconds": round(float(sampling_seconds), 3),
        "compile_seconds": round(float(compile_seconds), 3),
        "ess_per_second": ((ess_bulk_min / sampling_seconds) if sampling_seconds > 0 and not math.isnan(ess_bulk_min)
                           else math.nan),
        "worst_rhat_var": rhat_var,
        "worst_ess_var": ess_var,
        "draws": draws,
        "chains": chains,
    }

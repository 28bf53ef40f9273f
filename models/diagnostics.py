"""Sampling diagnostics of a posterior and the promotion gate."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import xarray as xr


@dataclass(frozen=True)
class GateResult:
    """Whether a fit may be served (`passed`) and, if not, every reason why (`reasons`)."""

    passed: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the result as a JSON-ready dict."""
        return {"passed": self.passed, "reasons": list(self.reasons)}


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
        "ess_per_second": (ess_bulk / sampling_seconds) if sampling_seconds > 0 and not math.isnan(ess_bulk) else math.nan,
        "worst_rhat_var": rhat_var,
        "worst_ess_var": ess_var,
        "draws": draws,
        "chains": chains,
    }


def gate(
    diagnostics: dict,
    max_rhat: float = 1.01,
    min_ess_bulk: float = 400,
    max_divergences: int = 0,
    min_ess_tail: float | None = None,
) -> GateResult:
    """Return GateResult(passed, reasons): a fit passes when every threshold is met (NaN never passes)."""
    reasons: list[str] = []
    rhat = diagnostics.get("rhat_max", math.nan)
    if rhat is None or math.isnan(rhat):
        reasons.append("rhat_max is not available (one chain or an approximate fit); run 2+ NUTS chains")
    elif rhat > max_rhat:
        reasons.append(f"rhat_max {rhat:.4f} > {max_rhat} (worst: {diagnostics.get('worst_rhat_var', '?')})")
    ess = diagnostics.get("ess_bulk_min", math.nan)
    if ess is None or math.isnan(ess) or ess < min_ess_bulk:
        reasons.append(f"ess_bulk_min {ess if ess is None else round(ess, 1)} < {min_ess_bulk} "
                       f"(worst: {diagnostics.get('worst_ess_var', '?')}); draw longer or more chains")
    if min_ess_tail is not None:
        tail = diagnostics.get("ess_tail_min", math.nan)
        if tail is None or math.isnan(tail) or tail < min_ess_tail:
            reasons.append(f"ess_tail_min {tail} < {min_ess_tail}")
    div = int(diagnostics.get("divergences", 0))
    if div > max_divergences:
        reasons.append(f"{div} divergent transitions > {max_divergences}; raise target_accept or reparameterise")
    return GateResult(passed=not reasons, reasons=reasons)

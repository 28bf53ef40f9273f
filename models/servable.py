"""Fit until the promotion gate passes: the shortest run first, longer only when ESS asks for it."""

from __future__ import annotations

import math
import time

from models.diagnostics import gate


def fit_servable(model, panel, *, draws: int = 800, tune: int = 400, chains: int = 2, seed: int = 1,
                 sampler: str = "nutpie", max_attempts: int = 3, max_draws: int = 4000,
                 max_rhat: float = 1.01, min_ess_bulk: float = 400, max_divergences: int = 0):
    """Return (fit, attempts): the first run is 2 x (400 tuning + 800 draws): in
    bench/sampling.py (20 x 120 synthetic) 2 x 500 draws gave bulk ESS ~290-320 and failed the gate,
    2 x 1000 gave ~570, so ~800 is the shortest first run expected to pass; refits with more draws (ESS shortfall x 1.3) until `gate` passes or
    `max_attempts` runs were made; `attempts` lists {draws, tune, seconds, passed, reasons} per run.
    The last fit is returned even when it never passed (its gate result says why)."""
    attempts = []
    fit = None
    for attempt in range(max_attempts):
        start = time.perf_counter()
        fit = model.fit(panel, draws=draws, tune=tune, chains=chains, seed=seed + attempt, sampler=sampler)
        result = gate(fit.diagnostics, max_rhat=max_rhat, min_ess_bulk=min_ess_bulk, max_divergences=max_divergences)
        attempts.append({"draws": draws, "tune": tune, "seconds": round(time.perf_counter() - start, 2),
                         "compile_seconds": fit.diagnostics["compile_seconds"],
                         "sampling_seconds": fit.diagnostics["sampling_seconds"],
                         "passed": result.passed, "reasons": result.reasons,
                         "rhat_max": fit.diagnostics["rhat_max"], "ess_bulk_min": fit.diagnostics["ess_bulk_min"]})
        if result.passed:
            break
        ess = fit.diagnostics.get("ess_bulk_min") or 1.0
        factor = 1.3 * min_ess_bulk / max(ess, 1.0) if not math.isnan(ess) else 2.0
        draws = int(min(max_draws, max(draws * 1.5, draws * factor)))
        tune = max(tune, min(1000, draws // 2))
    return fit, attempts

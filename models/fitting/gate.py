"""The promotion gate: the verdict on a fit's diagnostics (`gate`), and fitting until it passes
(`fit_servable`: one short run first, then more chains pooled with it when needed)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import xarray as xr

from models.core.spec import SamplerConfig
from models.fitting.diagnostics import compute_diagnostics
from models.fitting.fit import Fit

DEFAULT_ADAPTATION = "diag"
"""nutpie mass-matrix adaptation of fit_servable (measured in bench/sampling.py: models/NOTES_count_model.md)."""
DEFAULT_TARGET_ACCEPT = 0.8
"""nutpie's own target acceptance rate, used by every first run."""
DIVERGENCE_TARGET_ACCEPT = 0.95
"""After a run with divergences, the following runs take smaller steps (the usual remedy); the diverging
run is left out of the pool."""


@dataclass(frozen=True)
class GateResult:
    """Whether a fit may be served (`passed`) and, if not, every reason why (`reasons`)."""

    passed: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the result as a JSON-ready dict."""
        return {"passed": self.passed, "reasons": list(self.reasons)}


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


def next_run_chains(ess_bulk_min: float, chains_so_far: int, chains: int, *, min_ess_bulk: float = 400,
                    margin: float = 1.0, max_chains: int = 4, cores: int = 2) -> int:
    """Return how many chains the next run of `fit_servable` draws (each as long as the first run's).

    When the pool misses on bulk ESS, the chains needed to reach `margin` x `min_ess_bulk`, at the
    pool's measured ESS per chain of its worst parameter, rounded up to a multiple of `cores` (an
    odd chain would cost a whole extra round on the cores anyway), between `chains` and `max_chains`;
    otherwise (R-hat or divergences only, or no usable ESS) `chains`.
    """
    if not (ess_bulk_min == ess_bulk_min) or ess_bulk_min <= 0 or ess_bulk_min >= min_ess_bulk or chains_so_far < 1:
        return chains
    per_chain = ess_bulk_min / chains_so_far
    needed = math.ceil((margin * min_ess_bulk - ess_bulk_min) / per_chain)
    needed = cores * math.ceil(needed / cores)
    return int(min(max(needed, chains), max(max_chains, chains)))


def fit_servable(model, panel, *, draws: int = 1300, tune: int = 400, chains: int = 2, seed: int = 1,
                 sampler: str = "nutpie", adaptation: str = DEFAULT_ADAPTATION, max_attempts: int = 3,
                 max_rhat: float = 1.01, min_ess_bulk: float = 400, max_divergences: int = 0,
                 max_chains_per_run: int = 4, config: SamplerConfig | None = None):
    """Return (fit, attempts): the first run is `chains` x (`tune` + `draws`), nutpie with mass-matrix
    `adaptation` (see `models.SamplerConfig`). 1300 draws because at 1000 half the first
    runs missed the gate on 10 synthetic 20-region panels (bulk ESS 343-390 on log_alpha_scale, or
    R-hat 1.0101-1.0116 over ~100 parameters), and a second run cost more than the extra 300 draws;
    at 1300, 20 of 20 passed first (bench/sampling.py, models/NOTES_count_model.md, session 4).
    While the gate fails, more chains of the same length (new seed, the compiled model reused) are
    pooled with every chain so far: as many as the pool's measured ESS per chain says are needed
    for `min_ess_bulk` when ESS is short (`next_run_chains`; at most `max_chains_per_run`), else
    `chains` more (R-hat, divergences, or R-hat not computable from one chain), so a near miss
    costs one more short run, not a longer refit. A run with divergences (when none are allowed) is left
    out of the pool and the following runs use target_accept DIVERGENCE_TARGET_ACCEPT. At most `max_attempts` runs.
    `attempts` lists per run {draws, tune, chains, chains_total, seconds, compile_seconds, sampling_seconds, passed,
    reasons, rhat_max, ess_bulk_min, target_accept, run_divergences}, judged on the pooled chains. The last pooled
    fit is returned even when it never passed (its gate result says why). `config` (a models.SamplerConfig)
    gives the first run's sampler settings at once (draws to adaptation are ignored then; its adaptation None:
    DEFAULT_ADAPTATION for nutpie)."""
    if config is None:
        config = SamplerConfig(sampler=sampler, draws=draws, tune=tune, chains=chains, seed=seed)
    if config.sampler == "nutpie" and config.adaptation is None:
        config = replace(config, adaptation=adaptation)
    attempts, fits = [], []
    pooled = None
    run_chains = config.chains
    target_accept = None
    for attempt in range(max_attempts):
        start = time.perf_counter()
        run = replace(config, chains=run_chains, seed=config.seed + attempt,
                      target_accept=target_accept if config.sampler == "nutpie" else None)
        fits.append(model.fit(panel, config=run, warn=False, complete=False))
        run_divergences = int(fits[-1].diagnostics.get("divergences", 0))
        if max_divergences == 0:  # a run with divergences never joins the pool (its divergences would stay forever)
            fits = [f for f in fits if f.diagnostics.get("divergences", 0) == 0] or fits[-1:]
        pooled = pool_chains(fits)
        d = pooled.diagnostics
        result = gate(d, max_rhat=max_rhat, min_ess_bulk=min_ess_bulk, max_divergences=max_divergences)
        attempts.append({"draws": config.draws, "tune": config.tune, "chains": run_chains,
                         "chains_total": int(d["chains"]),
                         "seconds": round(time.perf_counter() - start, 2),
                         "compile_seconds": fits[-1].diagnostics["compile_seconds"],
                         "sampling_seconds": fits[-1].diagnostics["sampling_seconds"],
                         "passed": result.passed, "reasons": result.reasons,
                         "rhat_max": d["rhat_max"], "ess_bulk_min": d["ess_bulk_min"],
                         "target_accept": target_accept or DEFAULT_TARGET_ACCEPT, "run_divergences": run_divergences})
        if result.passed:
            break
        if run_divergences > max_divergences:
            target_accept = DIVERGENCE_TARGET_ACCEPT  # smaller steps from now on
        run_chains = next_run_chains(d["ess_bulk_min"], int(d["chains"]), config.chains, min_ess_bulk=min_ess_bulk,
                                     max_chains=max_chains_per_run)
    if config.sampler == "nutpie":
        pooled.info["sampler"] = {**pooled.info.get("sampler", {}), "adaptation": config.adaptation}
    return model.complete(pooled, panel), attempts

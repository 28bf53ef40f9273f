"""Executor tasks: plain module-level functions of plain values (frames, dicts, artifact keys and the
ArtifactStore, which pickles as its URL), picklable for process pools and Dask. They never touch the
database; the worker records what they return. Artifacts are written to a local scratch directory and
then put into the store, so a Dask worker on another host needs nothing but the store's URL.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from service.serving.artifacts import ArtifactStore

if TYPE_CHECKING:  # models imports PyMC: tasks import it inside the task process only
    from models.core.spec import SamplerConfig

PATHS_DRAWS = 1000
FIT_RUNS = 3
"""At most this many sampler runs per fit job: a near miss of the gate is topped up with more chains."""


def json_value(value: Any) -> Any:
    """Return `value` as plain JSON (numpy scalars to Python, NaN/inf to None, containers recursively)."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class PathsRecord:
    """Where a version's forecast paths were put in the store and how they were drawn (`save_paths`)."""

    paths_file: str
    paths_sha256: str
    paths_horizon: int
    paths_draws: int
    paths_seed: int
    covariates_mode: str
    covariates: dict[str, Any]

    def columns(self) -> dict[str, Any]:
        """Return the version row's paths columns (paths_file, _sha256, _horizon, _draws, _seed)."""
        return {name: getattr(self, name) for name in PATHS_COLUMNS}


PATHS_COLUMNS = ("paths_file", "paths_sha256", "paths_horizon", "paths_draws", "paths_seed")


@dataclass(frozen=True)
class FitRecord:
    """What one fit task returns: diagnostics (with the sampler runs), spec, data hash, regions, last period,
    the gate verdict (judged once, by models.fitting.gate.fit_servable), the posterior's key and sha256, the paths
    (None when the gate failed: nothing is served), the task process's pid and seconds."""

    diagnostics: dict[str, Any]
    spec: dict[str, Any]
    data_hash: str
    regions: list[str]
    last_period: str
    gate_passed: bool
    gate_reasons: list[str]
    posterior_file: str
    posterior_sha256: str
    pid: int
    task_seconds: float
    paths: PathsRecord | None = None


def build_panel(frame, regions: list[dict], normalise: str):
    """Return the Panel of a frame (region, indicator, period, value) over `regions`."""
    from indicators import Panel

    return Panel.from_frame(frame, regions=regions, normalise=normalise)


def fit_task(frame, regions: list[dict], config: dict, gate_thresholds: dict, store: ArtifactStore, prefix: str,
             covariate_sources: dict | None = None) -> FitRecord:
    """Return the FitRecord of one fit: diagnostics, gate verdict, spec, data hash and artifact keys with sha256.

    Fits `config` (a model config dict) to the panel, saves the posterior as NetCDF under `prefix` in `store`,
    and, when the fit passes the gate, simulates the forecast paths (`config["horizon"]` months) once and
    saves them too, so serving never samples. `covariate_sources` (service.serving.covariate_sources) names the
    fitted models that move the covariates forward in those paths.
    """
    from models.core.registry import family
    from models.core.spec import SamplerConfig

    began = time.perf_counter()
    sampler = SamplerConfig.from_settings(config["sampler"])
    panel = build_panel(frame, regions, config["normalise"])
    model = family(config["family"]).model(indicator=config["indicator"], covariates=list(config["covariates"]),
                                           spillover=config["spillover"], normalise=config["normalise"],
                                           **config.get("options", {}))
    fit, runs, verdict = fit_until_servable(model, panel, sampler, gate_thresholds)
    posterior = f"{prefix}/posterior.nc"
    posterior_sha256 = save_posterior(fit, store, posterior)
    paths = None
    if verdict.passed:
        paths = save_paths(fit, horizon=config["horizon"], seed=sampler.seed, store=store,
                           prefix=prefix, covariate_sources=covariate_sources)
    combination = {"combination": fit.info["combination"]} if "combination" in fit.info else {}
    return FitRecord(
        diagnostics=json_value({**dict(fit.diagnostics), "runs": runs, **combination}),
        spec=json_value(dict(fit.spec) if isinstance(fit.spec, dict) else fit.spec.to_dict()),
        data_hash=fit.data_hash, regions=list(fit.regions), last_period=fit.last_period,
        gate_passed=bool(verdict.passed), gate_reasons=[str(r) for r in verdict.reasons],
        posterior_file=posterior, posterior_sha256=posterior_sha256, pid=os.getpid(),
        task_seconds=round(time.perf_counter() - began, 3), paths=paths)


def fit_until_servable(model, panel, sampler: SamplerConfig, gate_thresholds: dict) -> tuple[Any, list[dict], Any]:
    """Return (fit, runs, verdict) through `models.fitting.gate.fit_servable`: the configured draws, tune and chains are
    the first run; while an MCMC fit fails the gate, more chains of that length are pooled with it (at most
    FIT_RUNS runs); ADVI runs once. `runs` lists per run {chains, chains_total, seconds, passed, rhat_max,
    ess_bulk_min}, judged on the chains pooled so far; `verdict` (models.fitting.gate.GateResult) is the last run's,
    the gate's verdict on the returned fit."""
    from models.fitting.gate import GateResult, fit_servable

    fit, attempts = fit_servable(model, panel, config=sampler,
                                 max_attempts=1 if sampler.sampler == "advi" else FIT_RUNS, **gate_thresholds)
    keys = ("chains", "chains_total", "seconds", "passed", "rhat_max", "ess_bulk_min")
    verdict = GateResult(passed=bool(attempts[-1]["passed"]), reasons=list(attempts[-1]["reasons"]))
    return fit, [{k: json_value(a[k]) for k in keys} for a in attempts], verdict


def save_posterior(fit, store: ArtifactStore, key: str) -> str:
    """Return the sha256 of the fit's NetCDF after writing it to a scratch file and putting it at `key` in `store`.

    HDF5 kills the whole task process when a write fails (a full artifact disk), which the worker can only
    report as a broken pool; a copy or upload fails with a plain OSError that names the file and the reason.
    """
    with tempfile.TemporaryDirectory(prefix="fragility-fit-") as scratch:
        staged = Path(scratch) / "posterior.nc"
        fit.save(staged)
        return store.put(staged, key, what="posterior")


def save_paths(fit, *, horizon: int, seed: int, store: ArtifactStore, prefix: str,
               covariate_sources: dict | None = None) -> PathsRecord:
    """Return the PathsRecord (key, sha256, horizon, draws, seed, covariates) after simulating the paths and
    putting them at `prefix`/paths.npz in `store`.

    Covariates with a usable source model move with it; the others are held, and the stored detail of
    each covariate says which model moved it or why it was held.
    """
    from service.serving.covariate_sources import load_covariate_fits

    covariate_fits, notes = load_covariate_fits(fit, covariate_sources or {}, store)
    forecast = fit.forecast(horizon=horizon, draws=PATHS_DRAWS, seed=seed, covariates=covariate_fits)
    for name, note in notes.items():
        forecast.covariates.detail[name].update(note)
    paths = f"{prefix}/paths.npz"
    with tempfile.TemporaryDirectory(prefix="fragility-paths-") as scratch:
        staged = Path(scratch) / "paths.npz"
        forecast.save(staged)
        paths_sha256 = store.put(staged, paths, what="forecast paths")
    return PathsRecord(paths_file=paths, paths_sha256=paths_sha256, paths_horizon=int(horizon),
                       paths_draws=int(np.asarray(forecast.paths).shape[0]), paths_seed=int(seed),
                       covariates_mode=forecast.covariates_mode, covariates=json_value(forecast.covariates_detail))


def forecast_paths_task(posterior: dict, horizon: int, seed: int, store: ArtifactStore, prefix: str,
                        covariate_sources: dict | None = None) -> PathsRecord:
    """Return the PathsRecord after re-simulating a stored posterior's forecast paths under `prefix` in `store`.

    `posterior` is {"file": key, "sha256": ..., "what": "posterior of m v1"}; it is checked again after loading.
    """
    from models.fitting.fit import Fit

    with store.local_copy(posterior["file"], posterior["sha256"], what=posterior["what"]) as path:
        fit = Fit.load(path)
    return save_paths(fit, horizon=horizon, seed=seed, store=store, prefix=prefix,
                      covariate_sources=covariate_sources)


def backtest_forecasters(config: dict, covariate_families: dict[str, str] | None = None) -> dict:
    """Return the forecasters a backtest compares: the model, the model without spillover, and the baselines.

    Both model forecasters carry the model's covariates; `covariate_families` {covariate: family} names the
    covariates whose own model is fitted at each origin to move them (the others are held), as in serving.
    """
    from models.core.spec import SamplerConfig
    from models.evaluation.backtest import family_model_forecaster
    from models.evaluation.baselines import bootstrap_forecast, persistence_forecast, zero_forecast

    sampler = SamplerConfig.from_settings(config["sampler"])
    options = dict(draws=sampler.draws, tune=sampler.tune, chains=sampler.chains,
                   sampler=sampler.sampler, normalise=config["normalise"], covariates=tuple(config["covariates"]),
                   covariate_families=covariate_families, **config.get("options", {}))
    forecasters = {
        "zero": zero_forecast, "persistence": persistence_forecast, "bootstrap": bootstrap_forecast,
        "model": family_model_forecaster(config["family"], spillover=config["spillover"], **options),
    }
    if config["spillover"]:
        forecasters["no_spillover"] = family_model_forecaster(config["family"], spillover=False, **options)
    return forecasters

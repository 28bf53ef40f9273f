"""Executor tasks: plain module-level functions of plain values (frames, dicts, paths), picklable for
process pools and Dask. They never touch the database; the worker records what they return.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from service.serving.artifacts import file_sha256

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


def build_panel(frame, regions: list[dict], normalise: str):
    """Return the Panel of a frame (region, indicator, period, value) over `regions`."""
    from indicators import Panel

    return Panel.from_frame(frame, regions=regions, normalise=normalise)


def fit_task(frame, regions: list[dict], config: dict, gate_thresholds: dict, out_dir: str,
             covariate_sources: dict | None = None) -> dict:
    """Return the record of one fit: diagnostics, gate verdict, spec, data hash and artifact files with sha256.

    Fits `config` (a model config dict) to the panel, saves the posterior as NetCDF in `out_dir`, applies
    the gate and, when it passes, simulates the forecast paths (`config["horizon"]` months) once and saves
    them too, so serving never samples. `covariate_sources` (service.serving.covariate_sources) names the fitted
    models that move the covariates forward in those paths.
    """
    from models.families import family
    from models.gate import gate

    began = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    panel = build_panel(frame, regions, config["normalise"])
    model = family(config["family"]).model(indicator=config["indicator"], covariates=list(config["covariates"]),
                                           spillover=config["spillover"], normalise=config["normalise"])
    fit, runs = fit_until_servable(model, panel, config["sampler"], gate_thresholds)
    sampler = config["sampler"]
    posterior = out / "posterior.nc"
    save_posterior(fit, posterior)
    verdict = gate(fit.diagnostics, **gate_thresholds)
    record: dict[str, Any] = {
        "diagnostics": json_value({**dict(fit.diagnostics), "runs": runs}),
        "spec": json_value(dict(fit.spec) if isinstance(fit.spec, dict) else fit.spec.to_dict()),
        "data_hash": fit.data_hash,
        "regions": list(fit.regions),
        "last_period": fit.last_period,
        "gate_passed": bool(verdict.passed),
        "gate_reasons": [str(r) for r in verdict.reasons],
        "posterior_file": str(posterior),
        "posterior_sha256": file_sha256(posterior),
        "pid": os.getpid(),
    }
    if verdict.passed:
        record.update(save_paths(fit, horizon=config["horizon"], seed=sampler["seed"], out=out,
                                 covariate_sources=covariate_sources))
    record["task_seconds"] = round(time.perf_counter() - began, 3)
    return record


def fit_until_servable(model, panel, sampler: dict, gate_thresholds: dict) -> tuple[Any, list[dict]]:
    """Return (fit, runs) through `models.gate.fit_servable`: the configured draws, tune and chains are the
    first run; while an MCMC fit fails the gate, more chains of that length are pooled with it (at most
    FIT_RUNS runs); ADVI runs once. `runs` lists per run {chains, chains_total, seconds, passed,
    rhat_max, ess_bulk_min}, judged on the chains pooled so far."""
    from models.gate import fit_servable

    fit, attempts = fit_servable(model, panel, draws=sampler["draws"], tune=sampler["tune"],
                                 chains=sampler["chains"], seed=sampler["seed"], sampler=sampler["method"],
                                 max_attempts=1 if sampler["method"] == "advi" else FIT_RUNS, **gate_thresholds)
    keys = ("chains", "chains_total", "seconds", "passed", "rhat_max", "ess_bulk_min")
    return fit, [{k: json_value(a[k]) for k in keys} for a in attempts]


def save_posterior(fit, posterior: Path) -> None:
    """Write the fit's NetCDF to a scratch file, then copy it to `posterior`; returns nothing.

    HDF5 kills the whole task process when a write fails (a full artifact disk), which the worker can only
    report as a broken pool; a copy fails with a plain OSError that names the file and the reason.
    """
    with tempfile.TemporaryDirectory(prefix="fragility-fit-") as scratch:
        staged = Path(scratch) / posterior.name
        fit.save(staged)
        try:
            shutil.copyfile(staged, posterior)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write the posterior to {posterior}: {exc.strerror}; free space in "
                          "FRAGILITY_ARTIFACTS (or point it at a writable disk) and refit") from None


def save_paths(fit, *, horizon: int, seed: int, out: Path, covariate_sources: dict | None = None) -> dict:
    """Return the paths record (file, sha256, horizon, draws, seed, covariates) after simulating and saving them.

    Covariates with a usable source model move with it; the others are held, and the stored detail of
    each covariate says which model moved it or why it was held.
    """
    from service.serving.covariate_sources import load_covariate_fits

    covariate_fits, notes = load_covariate_fits(fit, covariate_sources or {})
    forecast = fit.forecast(horizon=horizon, draws=PATHS_DRAWS, seed=seed, covariates=covariate_fits)
    for name, note in notes.items():
        forecast.covariates.detail[name].update(note)
    paths = out / "paths.npz"
    forecast.save(paths)
    return {
        "paths_file": str(paths), "paths_sha256": file_sha256(paths), "paths_horizon": int(horizon),
        "paths_draws": int(np.asarray(forecast.paths).shape[0]), "paths_seed": int(seed),
        "covariates_mode": forecast.covariates_mode, "covariates": json_value(forecast.covariates_detail),
    }


def forecast_paths_task(posterior_file: str, horizon: int, seed: int, out_dir: str,
                        covariate_sources: dict | None = None) -> dict:
    """Return the paths record after re-simulating a stored posterior's forecast paths into `out_dir`."""
    from models.fit import Fit

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fit = Fit.load(posterior_file)
    return save_paths(fit, horizon=horizon, seed=seed, out=out, covariate_sources=covariate_sources)


def backtest_forecasters(config: dict, covariate_families: dict[str, str] | None = None) -> dict:
    """Return the forecasters a backtest compares: the model, the model without spillover, and the baselines.

    Both model forecasters carry the model's covariates; `covariate_families` {covariate: family} names the
    covariates whose own model is fitted at each origin to move them (the others are held), as in serving.
    """
    from models.backtest import family_model_forecaster
    from models.baselines import bootstrap_forecast, persistence_forecast, zero_forecast

    sampler = config["sampler"]
    options = dict(draws=sampler["draws"], tune=sampler["tune"], chains=sampler["chains"],
                   sampler=sampler["method"], normalise=config["normalise"], covariates=tuple(config["covariates"]),
                   covariate_families=covariate_families)
    forecasters = {
        "zero": zero_forecast, "persistence": persistence_forecast, "bootstrap": bootstrap_forecast,
        "model": family_model_forecaster(config["family"], spillover=config["spillover"], **options),
    }
    if config["spillover"]:
        forecasters["no_spillover"] = family_model_forecaster(config["family"], spillover=False, **options)
    return forecasters

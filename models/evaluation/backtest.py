"""Rolling-origin backtests: fit on data up to each origin, forecast 1..H, score what happened.

Each (forecaster, origin) pair is an independent task run by ``run_task`` (a picklable
module-level function), so the tasks can go to any executor whose ``submit(fn, *args)``
returns an object with ``.result()``: ``concurrent.futures`` pools and dask's ``Client``
both fit, so the origins run at once on as many workers as the executor has. Every outcome says
where it ran (the Dask worker's address, else host:pid) and when (wall-clock start and end).
Scores are averaged over the SAME cells for every forecaster: a (origin, month, region) cell
counts only when it was observed and every forecaster gave finite samples for it, so the
model and its baselines are compared month for month.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indicators.errors import InputError
from models.core.registry import family as registered_family
from models.evaluation.backtest_report import compare_to_baselines, pooled_scores, tail_check  # noqa: F401 (re-exported)
from models.evaluation.backtest_windows import EVENT_KEYS, window_events, window_rows
from models.evaluation.baselines import Forecaster
from models.evaluation.scoring import score_paths

SCORE_KEYS = ("crps", "crps_log1p", "dss", "logs", "coverage50", "coverage90", "hit90_closed", "ign", "mis")


def _last_observed_index(panel, indicator: str) -> int:
    """Return the index in ``panel.periods`` of the last month with any observation of ``indicator``."""
    seen = np.flatnonzero(np.isfinite(panel.values(indicator)).any(axis=0))
    if not seen.size:
        raise InputError(f"The panel has no observation of {indicator!r}: nothing to backtest.")
    return int(seen[-1])


def origins_for(panel, indicator: str, n_origins: int, step: int, horizon: int) -> list[str]:
    """Return ``n_origins`` origin months ``step`` months apart, oldest first.

    The last origin is the last month from which the whole ``horizon`` is still observed
    (the last observed month of ``indicator`` minus ``horizon``). An origin is the last
    month of data a fit sees; its forecast covers the ``horizon`` months after it.

    Raises InputError when the panel is too short for that many origins.
    """
    if n_origins < 1 or step < 1 or horizon < 1:
        raise InputError(f"n_origins, step and horizon must be >= 1; got {n_origins}, {step}, {horizon}.")
    periods = list(panel.periods)
    last = _last_observed_index(panel, indicator) - horizon
    first = last - step * (n_origins - 1)
    if first < 1:
        raise InputError(
            f"{n_origins} origins {step} months apart with horizon {horizon} need data from before "
            f"{periods[0]}: ask for fewer origins, a smaller step or a shorter horizon."
        )
    return [periods[i] for i in range(first, last + 1, step)]


def task_seed(seed: int, origin: str) -> int:
    """Return the seed of the tasks at ``origin`` (the same for every forecaster: common random numbers)."""
    year, month = (int(part) for part in origin.split("-"))
    return int(np.random.SeedSequence([seed, year * 12 + month]).generate_state(1)[0])


@dataclass(frozen=True)
class TaskOutcome:
    """Per-cell scores of one forecaster at one origin: arrays (horizon, n_regions), or the error; where the
    task ran (``worker``) and its wall-clock ``started``/``ended`` (Unix seconds)."""

    forecaster: str
    origin: str
    cells: dict[str, np.ndarray] | None
    seconds: float
    error: str | None = None
    worker: str = ""
    started: float = float("nan")
    ended: float = float("nan")

    def task_record(self) -> dict[str, Any]:
        """Return the JSON-able record of where and when this task ran, and its error if any."""
        return {"forecaster": self.forecaster, "origin": self.origin, "worker": self.worker,
                "started": _json_number(self.started), "ended": _json_number(self.ended),
                "seconds": _json_number(round(self.seconds, 3)), "error": self.error}


def task_location() -> str:
    """Return where the calling task runs: its Dask worker's address inside a Dask worker, else host:pid."""
    if "distributed" in sys.modules:  # only a process that imported Dask can be a Dask worker
        from distributed import get_worker

        try:
            return get_worker().address
        except ValueError:  # not inside a worker's task
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def observed_after(panel, indicator: str, origin: str, horizon: int) -> np.ndarray:
    """Return the observed values of the ``horizon`` months after ``origin``, shape (horizon, n_regions)."""
    periods = list(panel.periods)
    start = periods.index(origin) + 1
    values = panel.values(indicator)
    out = np.full((horizon, values.shape[0]), np.nan)
    window = values[:, start : start + horizon].T
    out[: window.shape[0]] = window
    return out


def run_task(
    name: str,
    forecaster: Forecaster,
    panel,
    indicator: str,
    origin: str,
    horizon: int,
    seed: int,
    k: Sequence[int],
    steps: Sequence[int] | None = None,
) -> TaskOutcome:
    """Return the scores of ``forecaster`` fitted on ``panel`` up to ``origin`` (errors are caught and kept),
    with where and when it ran; the onset and ending scores (models.evaluation.backtest_windows) are over ``steps``
    (default 1..horizon)."""
    began, started, worker = time.perf_counter(), time.time(), task_location()
    try:
        history = panel.until(origin)
        paths = np.asarray(forecaster(history, indicator, horizon, seed), dtype=float)
        expected = (horizon, len(panel.regions))
        if paths.ndim != 3 or paths.shape[1:] != expected:
            raise ValueError(f"forecaster {name!r} returned shape {paths.shape}; "
                             f"expected (samples, {expected[0]}, {expected[1]}).")
        observed = observed_after(panel, indicator, origin, horizon)
        cells = score_paths(paths, observed, k=k)
        cells.update(window_events(paths, observed, history.values(indicator), steps or range(1, horizon + 1),
                                   weights=np.asarray(panel.weights("target"), dtype=float)))
    except Exception as exc:  # a failed fit is recorded, the other tasks go on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return TaskOutcome(name, origin, None, time.perf_counter() - began, detail, worker, started, time.time())
    return TaskOutcome(name, origin, cells, time.perf_counter() - began, None, worker, started, time.time())


def _json_number(value: float) -> float | None:
    """Return ``value`` as a float, or None when it is not finite (JSON has no NaN)."""
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass
class BacktestResult:
    """Scores of every forecaster per horizon (``scores``), per region (``by_region``), for
    "some month 1..h >= k" events (``within``), pooled over the horizons (``pooled``), the
    tail check of the model (``tail``, see models.evaluation.backtest_report), failed tasks and timings."""

    indicator: str
    origins: list[str]
    horizon: int
    horizons: list[int]
    forecasters: list[str]
    scores: list[dict[str, Any]]
    by_region: list[dict[str, Any]]
    within: list[dict[str, Any]]
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    pooled: list[dict[str, Any]] = field(default_factory=list)
    tail: dict[str, Any] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """Where and when each (forecaster, origin) task ran: TaskOutcome.task_record, in submission order."""
    windows: list[dict[str, Any]] = field(default_factory=list)
    """One row per (forecaster, origin): pooled scores of that window, ratio, onset / ending (backtest_windows)."""
    overall: list[dict[str, Any]] = field(default_factory=list)
    """One row per forecaster over every window (its worst window ratio, windows above 1, onset / ending)."""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict of the whole result."""
        return {
            "indicator": self.indicator, "origins": self.origins, "horizon": self.horizon,
            "horizons": self.horizons, "forecasters": self.forecasters, "scores": self.scores,
            "by_region": self.by_region, "within": self.within, "failures": self.failures,
            "seconds": self.seconds, "pooled": self.pooled, "tail": self.tail,
            "tasks": self.tasks, "windows": self.windows, "overall": self.overall,
        }


def _as_completed(futures: list) -> Iterator[tuple[int, Any]]:
    """Yield (index, result) of ``futures`` as each completes; a task whose worker was lost yields its exception."""

    def result(index: int) -> Any:
        try:
            return futures[index].result()
        except Exception as exc:  # a lost worker: recorded by the caller as that task's error
            return exc

    if futures and all(isinstance(f, cf.Future) for f in futures):
        order = {id(f): i for i, f in enumerate(futures)}
        for future in cf.as_completed(futures):
            yield order[id(future)], result(order[id(future)])
        return
    pending = set(range(len(futures)))
    while pending:
        ready = [i for i in pending if not hasattr(futures[i], "done") or futures[i].done()]
        if not ready:
            time.sleep(0.2)
            continue
        for index in sorted(ready):
            pending.discard(index)
            yield index, result(index)


def run_backtest(
    panel,
    indicator: str,
    forecasters: Mapping[str, Forecaster],
    origins: Sequence[str],
    horizon: int,
    *,
    submit: Callable[..., Any] | None = None,
    progress: Callable[[int, int, TaskOutcome], None] | None = None,
    seed: int = 0,
    k: Sequence[int] = (1, 25),
    horizons: Sequence[int] | None = None,
) -> BacktestResult:
    """Return the backtest of every forecaster from every origin, scored on common cells.

    ``submit(fn, *args)`` runs a task and returns an object with ``.result()`` (None: run
    inline, in order); every (forecaster, origin) is one task, all submitted at once, so an executor with
    several workers runs several origins at once. ``progress(done, total, outcome)`` is called as each task
    ends, in the order they end. ``horizons`` are the steps reported (default 1..horizon). The scores do not
    depend on the executor: each task's seed is ``task_seed(seed, origin)``.
    """
    if not forecasters:
        raise InputError("No forecaster given: pass at least one name -> forecaster.")
    horizons = list(horizons) if horizons else list(range(1, horizon + 1))
    if min(horizons) < 1 or max(horizons) > horizon:
        raise InputError(f"Every reported horizon must be in 1..{horizon}; got {horizons}.")
    jobs = [(name, origin) for name in forecasters for origin in origins]
    args = [(name, forecasters[name], panel, indicator, origin, horizon, task_seed(seed, origin), tuple(k),
             tuple(horizons)) for name, origin in jobs]
    if submit is None:
        completed: Iterator[tuple[int, Any]] = ((i, run_task(*task_args)) for i, task_args in enumerate(args))
    else:
        completed = _as_completed([submit(run_task, *task_args) for task_args in args])
    outcomes: list[TaskOutcome] = [None] * len(args)  # type: ignore[list-item]
    for done, (index, value) in enumerate(completed, start=1):
        name, origin = jobs[index]
        outcomes[index] = (value if isinstance(value, TaskOutcome)
                           else TaskOutcome(name, origin, None, float("nan"), f"task lost: {value!r}"))
        if progress:
            progress(done, len(args), outcomes[index])
    return aggregate(outcomes, panel=panel, indicator=indicator, origins=list(origins), horizon=horizon,
                     horizons=horizons, forecasters=list(forecasters), k=k)


def _stack(outcomes: list[TaskOutcome], name: str, origins: list[str], key: str, shape: tuple[int, int]) -> np.ndarray:
    """Return one score of forecaster ``name`` as (origin, horizon, region), NaN for failed tasks."""
    out = np.full((len(origins), *shape), np.nan)
    for o in outcomes:
        if o.forecaster == name and o.cells is not None:
            out[origins.index(o.origin)] = o.cells[key]
    return out


def aggregate(outcomes, *, panel, indicator, origins, horizon, horizons, forecasters, k=(1, 25)) -> BacktestResult:
    """Return the BacktestResult of task outcomes, every mean taken over the cells all
    forecasters that ran scored (forecasters whose every task failed are left out of that mask)."""
    regions = list(panel.regions)
    shape = (horizon, len(regions))
    keys = [*SCORE_KEYS, *(f"brier_{t}" for t in k)]
    within_keys = [f"brier_within_{t}" for t in k]
    stacks = {name: {key: _stack(outcomes, name, origins, key, shape) for key in [*keys, *within_keys, "sample_max"]}
              for name in forecasters}
    ran = [name for name in forecasters if any(o.forecaster == name and o.cells is not None for o in outcomes)]
    common = np.ones((len(origins), *shape), bool)
    for name in ran:
        common &= np.isfinite(stacks[name]["crps"])
    scores, by_region, within = [], [], []
    for name in forecasters:
        for h in horizons:
            mask = common[:, h - 1]
            row = _mean_row(stacks[name], keys, h, mask)
            scores.append({"forecaster": name, "horizon": h, **row})
            within.append({"forecaster": name, "horizon": h, **_mean_row(stacks[name], within_keys, h, mask)})
            for r, region in enumerate(regions):
                if mask[:, r].any():
                    by_region.append({"forecaster": name, "horizon": h, "region": region,
                                      **_mean_row(stacks[name], keys, h, mask, region_index=r)})
    failures = [{"forecaster": o.forecaster, "origin": o.origin, "error": o.error} for o in outcomes if o.error]
    seconds = {name: [round(o.seconds, 3) for o in outcomes if o.forecaster == name and o.cells is not None]
               for name in forecasters}
    values = np.asarray(panel.values(indicator), dtype=float)
    observed_max = float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")
    ran_stacks = {name: stacks[name] for name in ran}
    events = {name: {key: _events(outcomes, name, origins, key, len(regions))
                     for key in EVENT_KEYS} for name in ran}
    windows, overall = window_rows(ran_stacks, events, common, origins, horizons, list(panel.periods))
    return BacktestResult(indicator, origins, horizon, list(horizons), list(forecasters), scores, by_region, within,
                          failures, seconds, pooled=pooled_scores(ran_stacks, common, horizons),
                          tail=tail_check(ran_stacks, common, origins, horizons, observed_max),
                          tasks=[o.task_record() for o in outcomes], windows=windows, overall=overall)


def _events(outcomes: list[TaskOutcome], name: str, origins: list[str], key: str, n_regions: int) -> np.ndarray:
    """Return one event score of forecaster ``name`` as (origin, region), NaN for failed tasks."""
    out = np.full((len(origins), n_regions), np.nan)
    for o in outcomes:
        if o.forecaster == name and o.cells is not None and key in o.cells:
            out[origins.index(o.origin)] = o.cells[key]
    return out


def _mean_row(stack: dict[str, np.ndarray], keys, h: int, mask: np.ndarray,
              region_index: int | None = None) -> dict[str, Any]:
    """Return the mean of each score at step ``h`` over the masked cells, plus their count ``n``."""
    if region_index is not None:
        mask = mask & (np.arange(mask.shape[1]) == region_index)[None, :]
    row: dict[str, Any] = {}
    for key in keys:
        values = stack[key][:, h - 1][mask]
        values = values[np.isfinite(values)]
        row[key] = _json_number(values.mean()) if values.size else None
    row["n"] = int(mask.sum())
    if "logs" in row and h != 1:
        row["logs"] = None
    return row


@dataclass(frozen=True)
class CountModelForecaster:
    """A picklable forecaster that fits the model of the registered ``family`` ("count", i.e.
    ``models.CountModel``, by default; see models.core.registry) on the panel up to the origin and returns its
    simulated paths (draw, step, region) in the panel's region order. ``covariate_families`` ((name, family) pairs)
    fits each covariate's own model at the origin too and moves that covariate with it, as the service
    does when the covariate's model is served; covariates without one are held."""

    spillover: bool = True
    draws: int = 500
    tune: int = 500
    chains: int = 2
    sampler: str = "nutpie"
    forecast_draws: int = 1000
    normalise: str = "target"
    fit_options: tuple[tuple[str, Any], ...] = ()
    model_options: tuple[tuple[str, Any], ...] = ()
    family: str = "count"
    covariate_families: tuple[tuple[str, str], ...] = ()

    def __call__(self, panel, indicator: str, horizon: int, seed: int) -> np.ndarray:
        """Return forecast paths of shape (forecast_draws, horizon, n_regions)."""
        model_class = registered_family(self.family).model
        model = model_class(indicator=indicator, spillover=self.spillover, normalise=self.normalise,
                            **dict(self.model_options))
        sampling = dict(draws=self.draws, tune=self.tune, chains=self.chains, seed=seed, sampler=self.sampler,
                        warn=False)  # a backtest scores its fits; a warning per origin says nothing new
        fit = model.fit(panel, **sampling, **dict(self.fit_options))
        covariate_fits = {
            name: registered_family(kind).model(indicator=name, normalise=self.normalise).fit(panel, **sampling)
            for name, kind in self.covariate_families}
        forecast = fit.forecast(horizon=horizon, draws=self.forecast_draws, seed=seed,
                                covariates=covariate_fits or None)
        paths = np.asarray(forecast.paths, dtype=float)
        regions = list(getattr(forecast, "regions", panel.regions))
        if regions != list(panel.regions):
            out = np.full((paths.shape[0], paths.shape[1], len(panel.regions)), np.nan)
            for r, region in enumerate(panel.regions):
                if region in regions:
                    out[:, :, r] = paths[:, :, regions.index(region)]
            paths = out
        return paths


def count_model_forecaster(spillover: bool = True, *, draws: int = 500, tune: int = 500, chains: int = 2,
                           sampler: str = "nutpie", forecast_draws: int = 1000, normalise: str = "target",
                           fit_options: dict[str, Any] | None = None, **model_options: Any) -> CountModelForecaster:
    """Return a picklable forecaster fitting the count model (with or without spillover) at each origin.

    ``model_options`` (e.g. ``form=``, ``priors=``) go to ``CountModel``; ``fit_options`` to ``fit``.
    """
    return CountModelForecaster(spillover, draws, tune, chains, sampler, forecast_draws, normalise,
                                tuple(sorted((fit_options or {}).items())), tuple(sorted(model_options.items())))


def family_model_forecaster(family: str, spillover: bool = True, *, covariate_families: dict[str, str] | None = None,
                            **options: Any) -> CountModelForecaster:
    """Return a picklable forecaster fitting the registered `family` model ("count", "share", "amount", ...)
    at each origin; `options` as for `count_model_forecaster`; `covariate_families` {covariate: family} also fits
    those covariates' own models at each origin and moves the covariates with them."""
    return dataclasses.replace(count_model_forecaster(spillover, **options), family=family,
                               covariate_families=tuple(sorted((covariate_families or {}).items())))

"""In-memory LRU of what serving reads: forecast paths per version, loaded posteriors, and answers, bounded by
the approximate bytes of what it holds (`approx_bytes`), not by a count: a thousand small answers cost what they
weigh and do not push out one expensive simulation.

Keys are tuples such as ("paths", version_id), ("fit", version_id), ("cut", version_id, source,
target, horizon, scenario) or ("answer", ...). A file is checked against its recorded sha256 when it
is loaded (once per process and key; a remote one after download); a missing or corrupt file marks the
version broken, and the served version falls back to the previous good one. Concurrent first asks for
one key load it once.
Which version serves is remembered for one second per process, so a hot forecast path does not
touch the database; a promotion is seen by every server within that second (plus the one lookup's time).
When the second is up, one request looks the served version up again while the others keep answering
from the version remembered until then (for at most STALE_GRACE_SECONDS more), instead of every
request of that moment taking a thread to ask the database the same question.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from service.crud.versions import mark_broken
from service.errors import ArtifactBroken, VersionBroken
from service.serving.artifacts import ArtifactStore, as_store
from service.serving.registry import ServedVersion, served_version

SERVED_TTL_SECONDS = 1.0
STALE_GRACE_SECONDS = 5.0
DEFAULT_CAPACITY_BYTES = 1_000_000_000
ENTRY_OVERHEAD_BYTES = 200
MAX_DEPTH = 6


def approx_bytes(value: Any, depth: int = 0, seen: set[int] | None = None) -> int:
    """Return the approximate memory held by `value`: arrays and frames by their buffers, containers and plain
    objects by their contents (followed MAX_DEPTH levels deep, each object counted once), anything else by
    sys.getsizeof."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and not isinstance(value, (bytes, bytearray, memoryview)):
        return nbytes + 100  # numpy arrays, xarray objects
    memory_usage = getattr(value, "memory_usage", None)
    if callable(memory_usage) and hasattr(value, "dtypes"):  # pandas frames
        try:
            return int(memory_usage(index=True, deep=False).sum())
        except (TypeError, ValueError):
            pass
    size = sys.getsizeof(value, 64)
    if depth >= MAX_DEPTH or isinstance(value, (str, bytes, bytearray, int, float, bool, type(None))):
        return size
    if isinstance(value, dict):
        return size + sum(approx_bytes(k, depth + 1, seen) + approx_bytes(v, depth + 1, seen)
                          for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return size + sum(approx_bytes(item, depth + 1, seen) for item in value)
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return size + approx_bytes(attributes, depth + 1, seen)
    return size


class PathCache:
    """A thread-safe LRU of loaded artifacts and computed answers, each computed once per key, holding at most
    about `capacity_bytes` (the entry just computed is always kept, even alone over the bound)."""

    def __init__(self, store: ArtifactStore | Path | str, capacity_bytes: int = DEFAULT_CAPACITY_BYTES) -> None:
        self.store = as_store(store)
        self.capacity_bytes = capacity_bytes
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.sizes: dict[Hashable, int] = {}
        self.total_bytes = 0
        self.lock = threading.Lock()
        self.loading: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0
        self.served: dict[tuple[str, int | None], tuple[float, ServedVersion]] = {}
        self.refreshing: dict[tuple[str, int | None], threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the cached value of `key`, computing it with `compute()` on first ask (once, even if concurrent)."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                self.hits += 1
                return self.items[key]
            key_lock = self.loading.setdefault(key, threading.Lock())
        with key_lock:
            with self.lock:
                if key in self.items:
                    self.hits += 1
                    return self.items[key]
            try:
                value = compute()
            finally:
                with self.lock:
                    self.loading.pop(key, None)
            size = approx_bytes(value) + ENTRY_OVERHEAD_BYTES
            with self.lock:
                self.misses += 1
                self.total_bytes += size - self.sizes.get(key, 0)
                self.items[key] = value
                self.sizes[key] = size
                self.items.move_to_end(key)
                while self.total_bytes > self.capacity_bytes and len(self.items) > 1:
                    dropped, _ = self.items.popitem(last=False)
                    self.total_bytes -= self.sizes.pop(dropped)
            return value

    def forecast(self, version: ServedVersion):
        """Return the stored forecast paths (models.Forecast) of a promoted version, checked against its sha256.

        Raises ArtifactMissing or ArtifactCorrupt.
        """
        def load():
            from models.forecast import Forecast

            with self.store.local_copy(version.paths_file or "", version.paths_sha256 or "",
                                       what=f"forecast paths of {version.model} v{version.number}") as path:
                return Forecast.load(path)

        return self.get(("paths", version.version_id), load)

    def fit(self, version: ServedVersion):
        """Return the stored posterior (models.Fit) of a version, checked against its sha256.

        Raises ArtifactMissing or ArtifactCorrupt.
        """
        def load():
            from models.fit import Fit

            with self.store.local_copy(version.posterior_file, version.posterior_sha256,
                                       what=f"posterior of {version.model} v{version.number}") as path:
                return Fit.load(path)

        return self.get(("fit", version.version_id), load)

    def peek(self, key: Hashable) -> Any:
        """Return the cached value of `key` without computing it (None when absent)."""
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
                self.hits += 1
            return value

    def remembered(self, name: str, number: int | None) -> ServedVersion | None:
        """Return the served version of `name` if it was looked up less than SERVED_TTL_SECONDS ago, or the
        previous one while another request is looking it up again (for at most STALE_GRACE_SECONDS after it
        expired), else None."""
        remembered = self.served.get((name, number))
        if remembered is None:
            return None
        expires, version = remembered
        now = time.monotonic()
        if expires > now:
            return version
        lookup = self.refreshing.get((name, number))
        if lookup is not None and lookup.locked() and now < expires + STALE_GRACE_SECONDS:
            return version
        return None

    def served_version(self, session: Session, name: str, number: int | None) -> ServedVersion:
        """Return the served version of `name` (or version `number`), remembered for SERVED_TTL_SECONDS.

        A promotion therefore reaches this process within that time; errors are never remembered. Concurrent
        lookups of one name are made once: the others wait for it (and `remembered` answers from the
        previous version meanwhile).
        """
        remembered = self.served.get((name, number))
        if remembered is not None and remembered[0] > time.monotonic():
            return remembered[1]
        with self.lock:
            lookup = self.refreshing.setdefault((name, number), threading.Lock())
        with lookup:
            remembered = self.served.get((name, number))
            if remembered is not None and remembered[0] > time.monotonic():
                return remembered[1]
            version = served_version(session, name, number)
            self.served[(name, number)] = (time.monotonic() + SERVED_TTL_SECONDS, version)
            return version

    def forget_version(self, version_id: int) -> None:
        """Drop every remembered served version with this id (after it was marked broken); returns nothing."""
        for key, (_, version) in list(self.served.items()):
            if version.version_id == version_id:
                self.served.pop(key, None)

    def stats(self) -> dict[str, int]:
        """Return the number of cached items, their approximate bytes, hits and misses."""
        with self.lock:
            return {"items": len(self.items), "bytes": self.total_bytes, "hits": self.hits, "misses": self.misses}


def resolve(session: Session, cache: PathCache, name: str, number: int | None = None) -> tuple[ServedVersion, Any]:
    """Return (served version, its forecast paths); a version whose paths are broken is marked and skipped.

    With `number` given, that version or a clear error. Raises ModelNotFound, VersionNotFound,
    VersionNotServable, VersionBroken, NoServedVersion.
    """
    while True:
        version = cache.served_version(session, name, number)
        try:
            return version, cache.forecast(version)
        except ArtifactBroken as exc:
            mark_broken(session, version_id=version.version_id, reason=exc.message)
            session.commit()
            cache.forget_version(version.version_id)
            if number is not None:
                raise VersionBroken(f"version {number} of {name!r} is broken: {exc.message}") from exc


def fit_of(session: Session, cache: PathCache, version: ServedVersion):
    """Return the loaded posterior of `version`; a missing or corrupt posterior marks it broken.

    Raises VersionBroken.
    """
    try:
        return cache.fit(version)
    except ArtifactBroken as exc:
        mark_broken(session, version_id=version.version_id, reason=exc.message)
        session.commit()
        cache.forget_version(version.version_id)
        raise VersionBroken(f"version {version.number} of {version.model!r} is broken: {exc.message}") from exc


def cached_run(cache: PathCache, version: ServedVersion, stored, fit, *, cut: tuple[str, str] | None = None,
               scenario: dict | None = None, grid: bool = False):
    """Return the full-horizon forecast (models.Forecast) of `version` for (cut, scenario, grid).

    The uncut, no-scenario paths are the `stored` ones; cut or scenario paths are simulated once from the
    loaded `fit`, over the stored horizon with the stored seed and draws (so the same random numbers) and the
    stored covariate paths, then cached under (version, cut, scenario). grid=True: the posterior grid of that
    run (models.events.grid_size; credible intervals are read from it), cached likewise.
    """
    if cut is None and not scenario and not grid:
        return stored
    from models.events import grid_size

    size = grid_size() if grid else {"draws": version.paths_draws}
    key = ("grid" if grid else "cut", version.version_id, tuple(cut) if cut else None,
           json.dumps(scenario, sort_keys=True))
    return cache.get(key, lambda: fit.forecast(
        horizon=version.paths_horizon, seed=version.paths_seed, cut=tuple(cut) if cut else None,
        scenario=scenario, covariates=stored.covariates, grid=grid, **size))


def cached_event_grid(cache: PathCache, version: ServedVersion, stored, fit, *, region: str, threshold: float,
                      horizon: int, cut: tuple[str, str] | None = None, scenario: dict | None = None):
    """Return the event grid of one question (`region` reaching `threshold` within `horizon`; see
    models.events.spillover_event_grid) of `version`, or None where the fit's family cannot condition on it.

    Simulated once per (version, question, cut, scenario) with the stored seed and covariate paths and cached
    with only the region's column (its `no_crossing` is what is read), so a world model's cache stays small.
    """
    from models.events import grid_size
    from models.forecasting import can_condition

    if not can_condition(fit, region, scenario):
        return None
    key = ("event", version.version_id, region, float(threshold), horizon, tuple(cut) if cut else None,
           json.dumps(scenario, sort_keys=True))

    def simulate():
        grid = fit.forecast(horizon=horizon, seed=version.paths_seed, cut=tuple(cut) if cut else None,
                            scenario=scenario, covariates=stored.covariates, grid=True,
                            condition=(region, float(threshold)), **grid_size(event=True))
        return grid.only(region)

    return cache.get(key, simulate)


def no_checkpoint() -> None:
    """A checkpoint that never stops the computation."""


def probability_from_paths(cache: PathCache, version: ServedVersion, stored, fit, *, region: str,
                           threshold: float, horizon: int, within: bool,
                           checkpoint: Callable[[], None] = no_checkpoint) -> dict:
    """Return the exceedance answer (models.Forecast.probability) of `version`: the predictive probability from
    the stored paths, its credible interval from the cached event grid of the question (within=True, families
    that can condition) or else the cached posterior grid of the loaded `fit`. `checkpoint()` is called between
    simulations; it may raise to stop the computation (service.serving.questions)."""
    checkpoint()
    grid = cached_event_grid(cache, version, stored, fit, region=region, threshold=threshold,
                             horizon=horizon) if within else None
    if grid is None:
        checkpoint()
        grid = cached_run(cache, version, stored, fit, grid=True).first_steps(horizon)
    return stored.first_steps(horizon).probability(region, threshold, within=within, grid=grid)


def spillover_from_paths(cache: PathCache, version: ServedVersion, stored, fit, *, source: str, target: str,
                         threshold: float, horizon: int, scenario=None,
                         checkpoint: Callable[[], None] = no_checkpoint) -> dict:
    """Return the spillover answer (models.events.spillover_answer) of `version` for source -> target.

    The question is checked against the loaded `fit` as the library checks it; the uncut forecast is read
    from the stored paths (or the cached scenario run), the cut one from the cached cut run (`cached_run`),
    the channel share's credible interval from the cached posterior grid pair and the event's from the
    question's cached event grid pair (`cached_event_grid`). `checkpoint()` is called before each of these
    simulations; it may raise to stop the computation (service.serving.questions).
    """
    from models.events import check_spillover_question, spillover_answer

    check_spillover_question(fit, source=source, target=target)
    scen = {source: scenario} if scenario is not None else None
    runs, events = [], []
    for grid in (False, True):
        for cut in (None, (source, target)):
            checkpoint()
            runs.append(cached_run(cache, version, stored, fit, cut=cut, scenario=scen, grid=grid).first_steps(horizon))
    for cut in (None, (source, target)):
        checkpoint()
        events.append(cached_event_grid(cache, version, stored, fit, region=target, threshold=threshold,
                                        horizon=horizon, cut=cut, scenario=scen))
    return spillover_answer(runs[0], runs[1], source=source, target=target, threshold=threshold,
                            seed=version.paths_seed, scenario=scenario, normalise=fit.spec.normalise,
                            grid=(runs[2], runs[3]), event_grid=None if events[0] is None else tuple(events))

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
            from models.questions.paths import Forecast

            with self.store.local_copy(version.paths_file or "", version.paths_sha256 or "",
                                       what=f"forecast paths of {version.model} v{version.number}") as path:
                return Forecast.load(path)

        return self.get(("paths", version.version_id), load)

    def fit(self, version: ServedVersion):
        """Return the stored posterior (models.Fit) of a version, checked against its sha256.

        Raises ArtifactMissing or ArtifactCorrupt.
        """
        def load():
            from models.fitting.fit import Fit

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

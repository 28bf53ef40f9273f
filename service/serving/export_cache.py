"""Paths exports served from files written once per version, with the exports in progress capped.

A version's stored paths never change (a rebuilt forecast gets a new file and checksum), so the full export of a
version (every region, one format) is written once, in pieces, to the artifact store next to the paths file,
named by the paths' sha256 (`.../exports/paths-<sha256[:16]>.csv`), and every later request streams that file
in blocks: nothing is rebuilt, and no request holds a whole export in memory. A local store gets the file by
an atomic rename, an object store by one upload, so no reader ever sees half a file; concurrent first asks in
one process build it once.

At most `limit` exports are built or sent at once per process (`admit`); one more is refused with 429 and
Retry-After (`ExportsBusy`), as expensive questions are (service.serving.questions).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath

from service.errors import ExportsBusy
from service.serving.artifacts import ArtifactStore
from service.serving.path_export import csv_chunks, encoded_paths
from service.serving.registry import ServedVersion

log = logging.getLogger("fragility.exports")
READ_BLOCK_BYTES = 1 << 20


def export_key(version: ServedVersion, fmt: str) -> str:
    """Return the store key of the full export of `version` as `fmt`: beside its paths file, named by their sha256."""
    folder = PurePosixPath(version.paths_file or f"models/{version.model}/v{version.number}").parent
    return f"{folder}/exports/paths-{(version.paths_sha256 or 'unknown')[:16]}.{fmt}"


def export_pieces(forecast, regions: list[str], fmt: str) -> Iterable[bytes]:
    """Return the export of `regions`' paths as `fmt` in pieces: CSV a piece per CHUNK_ROWS rows, Parquet and NPZ
    (compressed as a whole) in one piece."""
    return csv_chunks(forecast, regions) if fmt == "csv" else [encoded_paths(forecast, regions, fmt)]


class PathExports:
    """The export files of one artifact store and the admission of exports in progress (at most `limit`)."""

    def __init__(self, store: ArtifactStore, limit: int) -> None:
        self.store = store
        self.limit = limit
        self.lock = threading.Lock()
        self.running = 0
        self.building: dict[str, threading.Lock] = {}
        self.built = 0
        self.seconds_per_export = 1.0  # a running estimate, for Retry-After

    def admit(self) -> Callable[[], None]:
        """Return the function that ends this export (call it once); raises ExportsBusy at the cap."""
        with self.lock:
            if self.running >= self.limit:
                raise ExportsBusy(f"the server already sends {self.running} paths exports; at most {self.limit} at "
                                  "once (FRAGILITY_MAX_CONCURRENT_EXPORTS)", retry_after=self.seconds_per_export)
            self.running += 1
        started = time.monotonic()
        ended = threading.Event()

        def end() -> None:
            if ended.is_set():
                return
            ended.set()
            with self.lock:
                self.running -= 1
                self.seconds_per_export = 0.8 * self.seconds_per_export + 0.2 * (time.monotonic() - started)

        return end

    def stored(self, version: ServedVersion, forecast, fmt: str) -> tuple[str, int]:
        """Return (key, size in bytes) of the full export of `version` as `fmt`, writing it first if absent."""
        key = export_key(version, fmt)
        size = self.size(key)
        if size is not None:
            return key, size
        with self.lock:
            key_lock = self.building.setdefault(key, threading.Lock())
        with key_lock:
            size = self.size(key)
            if size is None:
                self.write(key, export_pieces(forecast, list(forecast.regions), fmt))
                size = self.size(key)
        with self.lock:
            self.building.pop(key, None)
        if size is None:
            raise OSError(f"the paths export {key} was written but cannot be found in the artifact store")
        return key, size

    def size(self, key: str) -> int | None:
        """Return the size of the stored file `key` in bytes, or None when it is not stored."""
        fs, _ = self.store.connect()
        target = self.store.location(key)
        if not self.store.is_local:
            fs.invalidate_cache()
        try:
            return int(fs.size(target))
        except (FileNotFoundError, IsADirectoryError):
            return None

    def write(self, key: str, pieces: Iterable[bytes]) -> None:
        """Store `pieces` as the file `key` whole or not at all (a local rename, or one upload); returns nothing."""
        started = time.monotonic()
        if self.store.is_local:
            target = Path(self.store.location(key))
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch_dir = target.parent
        else:
            scratch_dir = None
        handle = tempfile.NamedTemporaryFile(dir=scratch_dir, prefix=".export-", suffix=".part", delete=False)
        try:
            with handle:
                for piece in pieces:
                    handle.write(piece)
            if self.store.is_local:
                os.replace(handle.name, target)
            else:
                self.store.connect()[0].put_file(handle.name, self.store.location(key))
        finally:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
        with self.lock:
            self.built += 1
        log.info("paths export stored", extra={"key": key, "seconds": round(time.monotonic() - started, 3)})

    def read(self, key: str) -> Iterator[bytes]:
        """Return an iterator of the stored file `key` in blocks of READ_BLOCK_BYTES."""
        fs, _ = self.store.connect()
        with fs.open(self.store.location(key), "rb") as handle:
            while block := handle.read(READ_BLOCK_BYTES):
                yield block

    def stats(self) -> dict[str, int]:
        """Return the exports in progress and the export files this process wrote."""
        with self.lock:
            return {"running": self.running, "built": self.built}

"""Artifact files of model versions (posterior NetCDF, forecast paths) in an fsspec store, with sha256 checksums.

`FRAGILITY_ARTIFACTS` is a plain path or a URL: file:// (a local or shared disk), s3://bucket/prefix,
gs://bucket/prefix, or memory:// (this process only; see `ArtifactStore.in_process_only`).
`FRAGILITY_ARTIFACTS_OPTIONS` (JSON) goes to the filesystem, e.g. {"client_kwargs": {"endpoint_url": ...}}
for MinIO. The database keeps each file's key (relative to the root) and its checksum. Each fit attempt
writes under its own prefix, so two attempts never clash.

models/ reads and writes local files only: a file is written to a local scratch file and then uploaded, and
a remote file is downloaded to a scratch copy and checked against its checksum before it is loaded.
Errors name the artifact (model, version, file key), never where the root is (a server path, or a bucket
URL that may carry credentials).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from service.errors import ArtifactCorrupt, ArtifactMissing

LOCAL_PROTOCOLS = ("file", "local")


def file_sha256(path: Path | str) -> str:
    """Return the sha256 hex digest of the file at `path`."""
    with open(path, "rb") as handle:
        return stream_sha256(handle)


def stream_sha256(handle) -> str:
    """Return the sha256 hex digest of what is left to read in the binary file object `handle`."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def attempt_prefix(model_name: str, job_id: int, attempt: int) -> str:
    """Return the key prefix (relative to the store's root) under which one attempt of a job writes."""
    return f"models/{model_name}/job-{job_id}-attempt-{attempt}"


def redacted(url: str) -> str:
    """Return `url` without user, password or query (where credentials could sit); a plain path as given."""
    parts = urlsplit(url)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive letter)
        return url
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))


class ArtifactStore:
    """Where artifacts live: an fsspec filesystem and a root, opened lazily (picklable for process pools
    and Dask: only the URL and options travel, each process connects itself)."""

    def __init__(self, url: str | Path = "artifacts", options: dict[str, Any] | None = None) -> None:
        self.url = str(url)
        self.options = dict(options or {})
        self._fs: Any = None
        self._root = ""

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["options"])

    def __repr__(self) -> str:
        return f"ArtifactStore({redacted(self.url)!r})"

    def connect(self) -> tuple[Any, str]:
        """Return (fsspec filesystem, root path inside it), made on first use."""
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, root = url_to_fs(self.url, **self.options)
            self._root = root.rstrip("/") or root
        return self._fs, self._root

    @property
    def protocol(self) -> str:
        """Return the filesystem's protocol name ("file", "s3", "gcs", "memory", ...)."""
        protocol = self.connect()[0].protocol
        return protocol if isinstance(protocol, str) else protocol[0]

    @property
    def is_local(self) -> bool:
        """Return whether the store is a directory of this machine's filesystem."""
        return self.protocol in LOCAL_PROTOCOLS

    @property
    def in_process_only(self) -> bool:
        """Return whether the store lives in this process's memory (memory://): another process (a spawned
        pool worker, a Dask worker, the API server) sees an empty store, so tasks must run in this process."""
        return self.protocol == "memory"

    def location(self, key: str) -> str:
        """Return the full path of `key` inside the filesystem (a legacy absolute local path stays as stored)."""
        _, root = self.connect()
        if self.is_local and Path(key).is_absolute():
            return key
        return f"{root}/{key}"

    def put(self, local: Path | str, key: str, *, what: str) -> str:
        """Return the sha256 of the local file after copying it to `key` in the store.

        Raises OSError naming `what` and the key (and the reason, e.g. no space left) when it cannot be written.
        """
        digest = file_sha256(local)
        fs, _ = self.connect()
        target = self.location(key)
        try:
            if self.is_local:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, target)
            else:
                fs.put_file(str(local), target)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise OSError(exc.errno, f"cannot write the {what} ({key}) to the artifact store: {reason}; free space "
                          "in FRAGILITY_ARTIFACTS or point it at a writable store, then refit") from None
        return digest

    def verify(self, key: str, sha256: str, *, what: str) -> None:
        """Check that `key` exists and matches `sha256` (streamed, nothing kept); returns nothing.

        Raises ArtifactMissing or ArtifactCorrupt naming `what` and the file.
        """
        fs, _ = self.connect()
        target = self.location(key)
        try:
            fs.invalidate_cache()
            with fs.open(target, "rb") as handle:
                actual = stream_sha256(handle)
        except (FileNotFoundError, IsADirectoryError):
            raise ArtifactMissing(f"{what} file {shown(key)} is missing from the artifact store") from None
        self.check(actual, sha256, key, what=what)

    @staticmethod
    def check(actual: str, sha256: str, key: str, *, what: str) -> None:
        """Raise ArtifactCorrupt naming `what` and the file when `actual` is not the recorded `sha256`."""
        if actual != sha256:
            raise ArtifactCorrupt(f"{what} file {shown(key)} is corrupt: sha256 {actual[:12]}... != recorded "
                                  f"{(sha256 or '')[:12]}...")

    @contextmanager
    def local_copy(self, key: str, sha256: str, *, what: str) -> Iterator[Path]:
        """Yield a local path holding `key`, checked against `sha256` (the file itself for a local store, else
        a scratch copy removed on exit). Raises ArtifactMissing or ArtifactCorrupt naming `what` and the file."""
        fs, _ = self.connect()
        target = self.location(key)
        if self.is_local:
            path = Path(target)
            if not path.is_file():
                raise ArtifactMissing(f"{what} file {shown(key)} is missing from the artifact store")
            self.check(file_sha256(path), sha256, key, what=what)
            yield path
            return
        with tempfile.TemporaryDirectory(prefix="fragility-artifact-") as scratch:
            path = Path(scratch) / PurePosixPath(key).name
            try:
                fs.invalidate_cache()
                fs.get_file(target, str(path))
            except (FileNotFoundError, IsADirectoryError):
                raise ArtifactMissing(f"{what} file {shown(key)} is missing from the artifact store") from None
            self.check(file_sha256(path), sha256, key, what=what)
            yield path

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write `data` to `key` (tests and tools that damage or plant files); returns nothing."""
        fs, _ = self.connect()
        target = self.location(key)
        if self.is_local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        fs.pipe_file(target, data)

    def read_bytes(self, key: str) -> bytes:
        """Return the bytes stored at `key` (raises FileNotFoundError when absent)."""
        fs, _ = self.connect()
        fs.invalidate_cache()
        return fs.cat_file(self.location(key))

    def remove(self, key: str) -> None:
        """Delete `key` from the store; returns nothing."""
        fs, _ = self.connect()
        fs.rm_file(self.location(key))
        fs.invalidate_cache()


def shown(key: str) -> str:
    """Return how an error names a stored file: its key relative to the root, or a legacy absolute path's
    file name (the server's directories are not the caller's business)."""
    return PurePosixPath(key).name if PurePosixPath(key).is_absolute() else key


def as_store(root: ArtifactStore | Path | str) -> ArtifactStore:
    """Return `root` as an ArtifactStore (a path or URL is opened with no options)."""
    return root if isinstance(root, ArtifactStore) else ArtifactStore(root)


def settings_store(settings) -> ArtifactStore:
    """Return the ArtifactStore of service settings (`artifacts` URL and `artifacts_options`)."""
    return ArtifactStore(settings.artifacts, settings.artifacts_options)

"""Artifact files of model versions (posterior NetCDF, forecast paths) and their sha256 checksums.

Files live under `settings.artifacts`; the database keeps their paths relative to that root and
their checksums. Each fit attempt writes into its own directory, so two attempts never clash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from service.errors import ArtifactCorrupt, ArtifactMissing


def attempt_dir(root: Path, model_name: str, job_id: int, attempt: int) -> Path:
    """Return the (absolute) directory where one attempt of a job writes its artifacts."""
    return (Path(root) / "models" / model_name / f"job-{job_id}-attempt-{attempt}").resolve()


def file_sha256(path: Path) -> str:
    """Return the sha256 hex digest of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def relative_to_root(root: Path, path: Path | str) -> str:
    """Return `path` relative to the artifact root when it lies under it, else as given."""
    path, root = Path(path).resolve(), Path(root).resolve()
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def checked_file(root: Path, stored: str, sha256: str, *, what: str) -> Path:
    """Return the absolute path of a stored artifact after checking it exists and matches `sha256`.

    Raises ArtifactMissing or ArtifactCorrupt with the file named.
    """
    path = Path(stored) if Path(stored).is_absolute() else Path(root) / stored
    if not path.is_file():
        raise ArtifactMissing(f"{what} file {path} is missing")
    actual = file_sha256(path)
    if actual != sha256:
        raise ArtifactCorrupt(f"{what} file {path} is corrupt: sha256 {actual[:12]}... != recorded {sha256[:12]}...")
    return path

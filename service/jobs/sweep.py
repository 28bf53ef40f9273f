"""Orphaned artifacts: the folders of job attempts that nothing will ever read, removed.

Each attempt of a fit or forecast job writes under a folder of its own, `models/<model>/job-<id>-attempt-<n>/`
(service.serving.artifacts.attempt_prefix). An attempt that was cancelled, whose worker was killed or lost its
lease, or that failed leaves a folder no version references. The rule: a folder is removed when

1. no stored version's posterior or paths file lies in it,
2. its job exists in this database and is not running that attempt (the job ended, waits for its retry, or a
   later attempt runs), and
3. nothing in it was written for `min_age_seconds` (FRAGILITY_ORPHAN_ARTIFACT_MINUTES), so a task that may still
   run somewhere (on a Dask worker, which cannot be stopped) is left alone until it stops writing.

Folders of other layouts, and of jobs this database does not know (a store shared with another database), are
never touched. The scheduler sweeps the store every FRAGILITY_ARTIFACT_SWEEP_SECONDS (`sweep_orphans`); a worker
removes its own attempt's folder at once when it abandons a job whose computation it killed (`remove_attempt`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from service.crud.jobs import job_states, version_files
from service.crud.models import model_by_id
from service.db.engine import Database
from service.db.tables import Job
from service.serving.artifacts import ArtifactStore, attempt_prefix

log = logging.getLogger("fragility.sweep")
ATTEMPT = re.compile(r"^job-(\d+)-attempt-(\d+)$")
TIME_FIELDS = ("mtime", "LastModified", "last_modified", "updated", "created")
"""Where fsspec filesystems put a file's modification time (local, s3, gcs, memory)."""


@dataclass(frozen=True)
class AttemptFolder:
    """One attempt's folder in the store: its key (relative to the root), job id and attempt number."""

    key: str
    job_id: int
    attempt: int


def attempt_of(key: str) -> tuple[int, int] | None:
    """Return (job id, attempt) of the attempt folder an artifact key lies in, or None for another layout."""
    for part in PurePosixPath(key).parts:
        match = ATTEMPT.match(part)
        if match:
            return int(match[1]), int(match[2])
    return None


def attempt_folders(store: ArtifactStore) -> list[AttemptFolder]:
    """Return the attempt folders under `models/` in the store (none when it has no `models/` yet)."""
    fs, root = store.connect()
    fs.invalidate_cache()
    try:
        models = fs.ls(f"{root}/models", detail=True)
    except FileNotFoundError:
        return []
    found = []
    for model in models:
        if model.get("type") != "directory":
            continue
        try:
            entries = fs.ls(model["name"], detail=True)
        except FileNotFoundError:  # removed meanwhile
            continue
        for entry in entries:
            name = PurePosixPath(entry["name"]).name
            match = ATTEMPT.match(name)
            if entry.get("type") == "directory" and match:
                found.append(AttemptFolder(f"models/{PurePosixPath(model['name']).name}/{name}",
                                           int(match[1]), int(match[2])))
    return found


def stamp(info: dict[str, Any]) -> float | None:
    """Return the modification time (POSIX seconds) in an fsspec info dict, or None when it gives none."""
    for field in TIME_FIELDS:
        value = info.get(field)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def last_write(store: ArtifactStore, key: str) -> float | None:
    """Return when anything in folder `key` was last written (POSIX seconds); None if the store does not say.
    An empty folder gives its own time, or 0.0 (nothing in it to keep) when the store has none."""
    fs, _ = store.connect()
    location = store.location(key)
    files = fs.find(location, detail=True)
    if not files:
        try:
            return stamp(fs.info(location)) or 0.0
        except FileNotFoundError:
            return 0.0
    stamps = [stamp(info) for info in files.values()]
    return None if any(value is None for value in stamps) else max(stamps)


def remove_folder(store: ArtifactStore, folder: AttemptFolder, why: str) -> bool:
    """Remove an attempt folder and everything in it; return False if it was already gone."""
    fs, _ = store.connect()
    try:
        fs.rm(store.location(folder.key), recursive=True)
    except FileNotFoundError:
        return False
    finally:
        fs.invalidate_cache()
    log.info("removed the artifacts of job %d attempt %d (%s): %s", folder.job_id, folder.attempt, folder.key, why,
             extra={"job_id": folder.job_id})
    return True


def sweep_orphans(database: Database, store: ArtifactStore, *, now: float, min_age_seconds: float) -> list[str]:
    """Return the keys of the attempt folders removed by the rule of this module (`now`: POSIX seconds)."""
    folders = attempt_folders(store)  # listed before the database is read: a folder seen has its attempt recorded
    if not folders:
        return []
    ids = sorted({folder.job_id for folder in folders})
    with database.session() as session:
        referenced = {attempt_of(key) for key in version_files(session)}
        states: dict[int, tuple[str, int]] = {}
        for start in range(0, len(ids), 500):
            states.update(job_states(session, job_ids=ids[start:start + 500]))
    removed = []
    for folder in folders:
        state = states.get(folder.job_id)
        if state is None or (folder.job_id, folder.attempt) in referenced:
            continue
        status, attempts = state
        if status == "running" and attempts == folder.attempt:
            continue
        written = last_write(store, folder.key)
        if written is None or now - written < min_age_seconds:
            continue
        why = f"job {status}, attempt {attempts}; no version references it, last written {now - written:.0f} s ago"
        if remove_folder(store, folder, why):
            removed.append(folder.key)
    return removed


def remove_attempt(database: Database, store: ArtifactStore, job_id: int, attempt: int) -> list[str]:
    """Return [the key of job `job_id`'s attempt `attempt` folder] if it was removed, else [] (no such folder,
    or a version references it). For a worker that killed the attempt's computation: nothing writes there now."""
    with database.session() as session:
        job = session.get(Job, job_id)
        model = model_by_id(session, job.model_id) if job is not None and job.model_id is not None else None
        referenced = {attempt_of(key) for key in version_files(session)}
    if model is None or (job_id, attempt) in referenced:
        return []
    folder = AttemptFolder(attempt_prefix(model.name, job_id, attempt), job_id, attempt)
    return [folder.key] if remove_folder(store, folder, "its computation was stopped") else []

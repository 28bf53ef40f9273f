"""Database functions for model versions: look-ups by number, the served (newest promoted, not broken)
version, numbering, breaking, and their API dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, select, update
from sqlalchemy.orm import Session

from service.db.tables import ModelVersion


def list_versions(session: Session, *, model_id: int, before: int | None = None,
                  limit: int | None = None) -> list[ModelVersion]:
    """Return the versions of a model, newest first: those numbered below `before` when given, at most `limit`
    when given."""
    query = select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.number.desc())
    if before is not None:
        query = query.where(ModelVersion.number < before)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query).all())


def version_by_number(session: Session, model_id: int, number: int) -> ModelVersion | None:
    """Return version `number` of `model_id`, or None when it has no such version."""
    return session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model_id, ModelVersion.number == number)
    ).first()


def last_promoted(session: Session, model_id: int) -> ModelVersion | None:
    """Return the served version row of `model_id` (newest promoted, not broken), or None."""
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.model_id == model_id, ModelVersion.promoted_at.is_not(None),
               ModelVersion.broken.is_(None))
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        .limit(1)
    ).first()


def served_number_of(model_id: Any) -> ScalarSelect:
    """Return the scalar subquery of the number of the version served for `model_id` (a column such as
    RegisteredModel.id, so one statement lists models with their served versions; NULL when none), reading no
    other column of the versions: the newest promoted, not broken one, as `last_promoted`."""
    return (
        select(ModelVersion.number)
        .where(ModelVersion.model_id == model_id, ModelVersion.promoted_at.is_not(None), ModelVersion.broken.is_(None))
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def served_number(session: Session, model_id: int) -> int | None:
    """Return the number of the version currently served for `model_id`, or None (no other column read)."""
    return session.scalar(select(served_number_of(model_id)))


def mark_broken(session: Session, *, version_id: int, reason: str) -> None:
    """Record that a version's artifacts cannot be used (it stops serving); returns nothing."""
    session.execute(
        update(ModelVersion).where(ModelVersion.id == version_id, ModelVersion.broken.is_(None)).values(broken=reason)
    )


def next_version_number(session: Session, model_id: int) -> int:
    """Return the number the next version of `model_id` gets (1 for the first)."""
    current = session.scalars(
        select(ModelVersion.number).where(ModelVersion.model_id == model_id)
        .order_by(ModelVersion.number.desc()).limit(1)
    ).first()
    return (current or 0) + 1


def add_version(session: Session, **fields: Any) -> ModelVersion:
    """Return the new version row made of `fields`, added and flushed (so it has its id); does not commit."""
    version = ModelVersion(**fields)
    session.add(version)
    session.flush()
    return version


def version_out(version: ModelVersion, *, served: int | None) -> dict[str, Any]:
    """Return the API dict of a version; `served` is the number of the model's served version."""
    return {
        "version": version.number, "created_at": version.created_at, "job_id": version.job_id,
        "data_hash": version.data_hash, "spec_hash": version.spec_hash, "spec": version.spec,
        "sampler": version.sampler, "regions": version.regions, "last_period": version.last_period,
        "diagnostics": version.diagnostics,
        "gate": {"passed": version.gate_passed, "reasons": version.gate_reasons},
        "promoted": version.promoted_at is not None, "promoted_at": version.promoted_at,
        "served": version.number == served, "broken": version.broken, "paths_horizon": version.paths_horizon,
        "artifacts": {
            "posterior": version.posterior_file, "posterior_sha256": version.posterior_sha256,
            "paths": version.paths_file, "paths_sha256": version.paths_sha256,
        },
    }

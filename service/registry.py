"""Which version of a model is served: the newest promoted version that is not broken.

Promotion never deletes anything: a failed gate leaves the previous version serving, and a version
whose artifacts turn out missing or corrupt is marked broken so the one before it serves again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.errors import Conflict, NotFound
from service.tables_registry import ModelVersion, RegisteredModel


class ModelNotFound(NotFound):
    """No model has this name."""

    hint = "List models with GET /v1/models or create one with POST /v1/models."


class ModelExists(Conflict):
    """A model with this name already exists."""

    hint = "Change it with PUT or PATCH /v1/models/{name}, or pick another name."


class VersionNotFound(NotFound):
    """The model has no version with this number."""

    hint = "List versions with GET /v1/models/{name}/versions."


class NoServedVersion(Conflict):
    """The model has no promoted version to serve yet."""

    hint = "Fit it with POST /v1/models/{name}/fit and wait for a version that passes the gate."


class VersionBroken(Conflict):
    """This version's artifacts are missing or corrupt; it cannot be served."""

    hint = "Ask without `version` to get the served version, or refit the model."


class VersionNotServable(Conflict):
    """This version did not pass the gate, so no forecast paths were stored for it."""

    hint = "Ask without `version` to get the served version, or pick a promoted version."


@dataclass(frozen=True)
class ServedVersion:
    """What the serving path needs of one version: identity, regions and artifact locations."""

    model: str
    model_id: int
    indicator: str
    version_id: int
    number: int
    regions: tuple[str, ...]
    last_period: str | None
    normalise: str
    posterior_file: str
    posterior_sha256: str
    paths_file: str | None
    paths_sha256: str | None
    paths_horizon: int
    paths_draws: int
    paths_seed: int

    @classmethod
    def of(cls, model: RegisteredModel, version: ModelVersion) -> ServedVersion:
        """Return the served view of `version` of `model`."""
        return cls(
            model=model.name, model_id=model.id, indicator=model.indicator, version_id=version.id,
            number=version.number, regions=tuple(version.regions), last_period=version.last_period,
            normalise=str(version.spec.get("normalise", model.normalise)),
            posterior_file=version.posterior_file, posterior_sha256=version.posterior_sha256,
            paths_file=version.paths_file, paths_sha256=version.paths_sha256,
            paths_horizon=version.paths_horizon or 0, paths_draws=version.paths_draws or 0,
            paths_seed=version.paths_seed or 0,
        )


def model_by_name(session: Session, name: str) -> RegisteredModel:
    """Return the model called `name`.

    Raises ModelNotFound.
    """
    model = session.scalars(select(RegisteredModel).where(RegisteredModel.name == name)).first()
    if model is None:
        raise ModelNotFound(f"no model named {name!r}")
    return model


def served_version(session: Session, name: str, number: int | None = None) -> ServedVersion:
    """Return the served version of model `name` (or its version `number`, if promoted and intact).

    Raises ModelNotFound, VersionNotFound, VersionNotServable, VersionBroken, NoServedVersion.
    """
    model = model_by_name(session, name)
    if number is not None:
        version = session.scalars(
            select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.number == number)
        ).first()
        if version is None:
            raise VersionNotFound(f"model {name!r} has no version {number}")
        if version.broken:
            raise VersionBroken(f"version {number} of {name!r} is broken: {version.broken}")
        if version.promoted_at is None or not version.paths_file:
            raise VersionNotServable(
                f"version {number} of {name!r} was not promoted: {'; '.join(version.gate_reasons) or 'no paths'}"
            )
        return ServedVersion.of(model, version)
    version = session.scalars(
        select(ModelVersion)
        .where(
            ModelVersion.model_id == model.id,
            ModelVersion.promoted_at.is_not(None),
            ModelVersion.broken.is_(None),
        )
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        .limit(1)
    ).first()
    if version is None:
        raise NoServedVersion(f"model {name!r} has no promoted version to serve yet{why_none(session, model)}")
    return ServedVersion.of(model, version)


def why_none(session: Session, model: RegisteredModel) -> str:
    """Return a short clause saying why no version serves (last gate verdict, broken versions)."""
    versions = session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(ModelVersion.number.desc())
    ).all()
    if not versions:
        return ": it was never fitted"
    clauses = []
    last = versions[0]
    if not last.gate_passed:
        clauses.append(f"version {last.number} failed the gate ({'; '.join(last.gate_reasons)})")
    clauses += [f"version {v.number} is broken ({v.broken})" for v in versions if v.broken]
    return (": " + "; ".join(clauses)) if clauses else ""


def served_number(session: Session, model_id: int) -> int | None:
    """Return the number of the version currently served for `model_id`, or None."""
    return session.scalars(
        select(ModelVersion.number)
        .where(ModelVersion.model_id == model_id, ModelVersion.promoted_at.is_not(None),
               ModelVersion.broken.is_(None))
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        .limit(1)
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


def promote(session: Session, *, version: ModelVersion, now: datetime) -> None:
    """Make `version` the served version of its model (it must have passed the gate); returns nothing."""
    if not version.gate_passed or not version.paths_file:
        raise ValueError("only a version that passed the gate and has forecast paths can be promoted")
    version.promoted_at = now

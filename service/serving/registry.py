"""Which version of a model is served: the newest promoted version that is not broken.

Promotion never deletes anything: a failed gate leaves the previous version serving, and a version
whose artifacts turn out missing or corrupt is marked broken so the one before it serves again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from service.crud.indicators import indicator_record
from service.crud.models import model_by_name
from service.crud.versions import last_promoted, list_versions, version_by_number
from service.db.tables import ModelVersion, RegisteredModel
from service.errors import NoServedVersion, VersionBroken, VersionNotFound, VersionNotServable


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
    unit: str | None = None

    @classmethod
    def of(cls, model: RegisteredModel, version: ModelVersion, unit: str | None = None) -> ServedVersion:
        """Return the served view of `version` of `model` (`unit`: the indicator's stored unit)."""
        return cls(
            model=model.name, model_id=model.id, indicator=model.indicator, version_id=version.id,
            number=version.number, regions=tuple(version.regions), last_period=version.last_period,
            normalise=str(version.spec.get("normalise", model.normalise)),
            posterior_file=version.posterior_file, posterior_sha256=version.posterior_sha256,
            paths_file=version.paths_file, paths_sha256=version.paths_sha256,
            paths_horizon=version.paths_horizon or 0, paths_draws=version.paths_draws or 0,
            paths_seed=version.paths_seed or 0, unit=unit,
        )


def served_version(session: Session, name: str, number: int | None = None) -> ServedVersion:
    """Return the served version of model `name` (or its version `number`, if promoted and intact).

    Raises ModelNotFound, VersionNotFound, VersionNotServable, VersionBroken, NoServedVersion.
    """
    model = model_by_name(session, name)
    if number is not None:
        version = version_by_number(session, model.id, number)
        if version is None:
            raise VersionNotFound(f"model {name!r} has no version {number}")
        if version.broken:
            raise VersionBroken(f"version {number} of {name!r} is broken: {version.broken}")
        if version.promoted_at is None or not version.paths_file:
            raise VersionNotServable(
                f"version {number} of {name!r} was not promoted: {'; '.join(version.gate_reasons) or 'no paths'}"
            )
        return ServedVersion.of(model, version, unit_of(session, model.indicator))
    version = last_promoted(session, model.id)
    if version is None:
        raise NoServedVersion(f"model {name!r} has no promoted version to serve yet{why_none(session, model)}")
    return ServedVersion.of(model, version, unit_of(session, model.indicator))


def unit_of(session: Session, indicator: str) -> str | None:
    """Return the stored unit of `indicator` (None when it has none)."""
    record = indicator_record(session=session, indicator=indicator)
    return record["unit"] if record else None


def why_none(session: Session, model: RegisteredModel) -> str:
    """Return a short clause saying why no version serves (last gate verdict, broken versions)."""
    versions = list_versions(session, model_id=model.id)
    if not versions:
        return ": it was never fitted"
    clauses = []
    last = versions[0]
    if not last.gate_passed:
        clauses.append(f"version {last.number} failed the gate ({'; '.join(last.gate_reasons)})")
    clauses += [f"version {v.number} is broken ({v.broken})" for v in versions if v.broken]
    return (": " + "; ".join(clauses)) if clauses else ""


def promote(session: Session, *, version: ModelVersion, now: datetime) -> None:
    """Make `version` the served version of its model (it must have passed the gate); returns nothing."""
    if not version.gate_passed or not version.paths_file:
        raise ValueError("only a version that passed the gate and has forecast paths can be promoted")
    version.promoted_at = now

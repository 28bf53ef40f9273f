"""Database functions for models and versions (keyword-only), and the inputs a fit reads."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from indicators.errors import InputError, UnknownIndicator, UnknownRegion
from service.registry import ModelExists, model_by_name, served_number
from service.tables import Indicator, Observation, Region
from service.tables_registry import ModelVersion, RegisteredModel, utc_now

CONFIG_FIELDS = ("family", "indicator", "regions", "covariates", "spillover", "normalise", "horizon", "sampler")


def model_config(model: RegisteredModel) -> dict[str, Any]:
    """Return the plain-dict configuration of a model that a fit depends on (everything but the schedule)."""
    return {
        "name": model.name, "family": model.family, "indicator": model.indicator,
        "regions": list(model.regions), "covariates": list(model.covariates), "spillover": model.spillover,
        "normalise": model.normalise, "horizon": model.horizon, "sampler": dict(model.sampler),
    }


def spec_hash(config: dict[str, Any]) -> str:
    """Return the sha256 of the fit-relevant configuration (name excluded), used to skip unchanged refits."""
    relevant = {key: config[key] for key in CONFIG_FIELDS}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def check_references(session: Session, *, family: str, indicator: str, regions: list[str], covariates: list[str]) -> None:
    """Return nothing if the indicator, covariates and regions exist and the indicator fits the family.

    Raises UnknownIndicator, UnknownRegion, InputError.
    """
    kinds = dict(session.execute(select(Indicator.id, Indicator.kind)).all())
    if indicator not in kinds:
        raise UnknownIndicator(f"unknown indicator {indicator!r}")
    from models.families import family as registered_family  # models imports PyMC: not with the app

    kind = registered_family(family).kind
    if kinds[indicator] != kind:
        raise InputError(f"a {family} model needs a {kind} indicator; {indicator!r} is {kinds[indicator]}")
    missing = [c for c in covariates if c not in kinds]
    if missing:
        raise UnknownIndicator(f"unknown covariate indicator(s): {', '.join(missing)}")
    known = set(session.scalars(select(Region.id)).all())
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise UnknownRegion(f"unknown region(s): {', '.join(unknown)}")
    if len(set(regions)) != len(regions):
        raise InputError("regions are listed more than once")


def create_model(session: Session, *, data: dict[str, Any]) -> RegisteredModel:
    """Return the new model stored from `data` (a validated ModelIn dump); commits.

    Raises ModelExists, UnknownIndicator, UnknownRegion, InputError.
    """
    if session.scalars(select(RegisteredModel.id).where(RegisteredModel.name == data["name"])).first():
        raise ModelExists(f"a model named {data['name']!r} already exists")
    check_references(session, family=data["family"], indicator=data["indicator"], regions=data["regions"],
                     covariates=data["covariates"])
    now = utc_now()
    model = RegisteredModel(**data, created_at=now, updated_at=now)
    session.add(model)
    session.commit()
    return model


def update_model(session: Session, *, name: str, changes: dict[str, Any]) -> RegisteredModel:
    """Return the model `name` with `changes` applied and stored; commits.

    Raises ModelNotFound, UnknownIndicator, UnknownRegion, InputError.
    """
    model = model_by_name(session, name)
    if "name" in changes and changes["name"] != name:
        raise InputError(f"the body names model {changes['name']!r} but the path names {name!r}; names cannot change")
    merged = {**model_config(model), **{k: v for k, v in changes.items() if k != "name"}}
    check_references(session, family=merged["family"], indicator=merged["indicator"], regions=merged["regions"],
                     covariates=merged["covariates"])
    for key, value in changes.items():
        if key != "name":
            setattr(model, key, value)
    model.updated_at = utc_now()
    session.commit()
    return model


def list_models(session: Session) -> list[RegisteredModel]:
    """Return every model, by name."""
    return list(session.scalars(select(RegisteredModel).order_by(RegisteredModel.name)).all())


def model_out(session: Session, model: RegisteredModel) -> dict[str, Any]:
    """Return the API dict of a model, with the number of its served version."""
    return {
        **model_config(model), "schedule": model.schedule, "served_version": served_number(session, model.id),
        "created_at": model.created_at, "updated_at": model.updated_at,
    }


def list_versions(session: Session, *, model_id: int) -> list[ModelVersion]:
    """Return every version of a model, newest first."""
    return list(session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.number.desc())
    ).all())


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


def region_dicts_for(session: Session, ids: list[str] | None) -> list[dict[str, Any]]:
    """Return region dicts (id, name, parent, neighbours) for `ids` (None/empty: all), neighbours kept inside the set."""
    rows = session.scalars(select(Region).order_by(Region.id)).all()
    by_id = {row.id: row for row in rows}
    order = list(ids) if ids else [row.id for row in rows]
    chosen = set(order)
    out = []
    for region_id in order:
        row = by_id[region_id]
        neighbours = []
        for edge in row.neighbours or []:
            edge = edge if isinstance(edge, dict) else {"id": edge}
            if edge["id"] in chosen:
                neighbours.append({"id": edge["id"], "weight": float(edge.get("weight", 1.0) or 1.0)})
        out.append({"id": row.id, "name": row.name, "parent": row.parent, "neighbours": neighbours})
    return out


def load_fit_inputs(session: Session, *, config: dict[str, Any]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Return the observations a fit of `config` reads (columns region, indicator, period, value) and its regions.

    Raises InputError when the model's indicator has no observations in its regions.
    """
    regions = region_dicts_for(session, config["regions"])
    ids = [r["id"] for r in regions]
    indicators = [config["indicator"], *config["covariates"]]
    rows = session.execute(
        select(Observation.region_id, Observation.indicator_id, Observation.period, Observation.value)
        .where(Observation.indicator_id.in_(indicators), Observation.region_id.in_(ids))
        .order_by(Observation.region_id, Observation.indicator_id, Observation.period)
    ).all()
    frame = pd.DataFrame(rows, columns=["region", "indicator", "period", "value"])
    if not (frame["indicator"] == config["indicator"]).any():
        raise InputError(f"no observations of {config['indicator']!r} in the regions of model {config['name']!r}",
                         hint="Send observations with POST /v1/observations first.")
    return frame, regions

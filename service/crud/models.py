"""Database functions for models (keyword-only), and the inputs a fit reads; versions are in `crud.versions`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indicators.errors import InputError, UnknownIndicator, UnknownRegion
from service.crud.versions import served_number, served_number_of
from service.db.tables import Indicator, Observation, Region, RegisteredModel, utc_now
from service.errors import ModelExists, ModelNotFound, TooManyModels, listed

CONFIG_FIELDS = ("family", "indicator", "regions", "covariates", "spillover", "normalise", "horizon", "sampler")
PARAMETERS_PER_REGION = 16
"""Posterior values per draw, per region and per indicator read (the count family stores 15 per region and 9
shared: measured on a fitted 4-region model); the fit-size rule counts 16 x regions x (1 + covariates) + 16."""
MAX_SAMPLER_RUNS = 3
"""A fit that misses the gate is topped up: at most this many sampler runs of `chains` chains are pooled."""


class FitTooLarge(InputError):
    """The model's fit would exceed the service's size limits; nothing was stored or started."""

    hint = ("Choose fewer regions (`regions`), fewer covariates, or fewer chains x draws (`sampler`); the rule is "
            "in README, Resource limits (FRAGILITY_MAX_MODEL_REGIONS, FRAGILITY_MAX_POSTERIOR_VALUES).")

    def __init__(self, field: str, reason: str) -> None:
        self.errors = [{"row": None, "field": field, "reason": reason}]
        super().__init__(f"{field}: {reason}")


class BadOptions(InputError):
    """The model's family refuses its options; `.errors` names each refused one (field options.<name>)."""

    hint = ("Send the family's options under `options` by the names of its model class's keyword arguments "
            "(README, Families); leave one out for its default.")

    def __init__(self, family: str, refused: dict[str, str]) -> None:
        self.errors = [{"row": None, "field": f"options.{name}" if name else "options", "reason": reason}
                       for name, reason in refused.items()]
        super().__init__(f"the {family} family refuses these options: "
                         + "; ".join(f"{e['field']}: {e['reason']}" for e in self.errors))


def posterior_values(*, regions: int, covariates: int, chains: int, draws: int) -> int:
    """Return the posterior values a fit may hold at most: runs x chains x draws x parameters (see
    PARAMETERS_PER_REGION, MAX_SAMPLER_RUNS)."""
    parameters = PARAMETERS_PER_REGION * regions * (1 + covariates) + PARAMETERS_PER_REGION
    return MAX_SAMPLER_RUNS * chains * draws * parameters


def check_fit_size(config: dict[str, Any], *, max_regions: int, max_values: int) -> None:
    """Return nothing when a fit of `config` (its regions already chosen) is within the limits.

    Raises FitTooLarge naming the field (`regions` or `sampler`) and the rule.
    """
    regions = len(config["regions"])
    if regions > max_regions:
        raise FitTooLarge("regions", f"{regions} regions; a model may cover at most {max_regions} "
                                     "(FRAGILITY_MAX_MODEL_REGIONS): the fit builds a dense region x region matrix")
    sampler = config.get("sampler") or {}
    chains, draws = int(sampler.get("chains", 2)), int(sampler.get("draws", 1300))
    values = posterior_values(regions=regions, covariates=len(config["covariates"]), chains=chains, draws=draws)
    if values > max_values:
        raise FitTooLarge("sampler", (
            f"{MAX_SAMPLER_RUNS} runs x {chains} chains x {draws} draws x "
            f"({PARAMETERS_PER_REGION} x {regions} regions x (1 + {len(config['covariates'])} covariates) + "
            f"{PARAMETERS_PER_REGION}) = {values:,} posterior values; at most {max_values:,} "
            "(FRAGILITY_MAX_POSTERIOR_VALUES, 8 bytes each)"))


def regions_with_data(session: Session, indicator: str) -> list[str]:
    """Return the ids of the regions that have at least one observation of `indicator`, sorted."""
    return list(session.scalars(select(Observation.region_id).where(Observation.indicator_id == indicator)
                                .distinct().order_by(Observation.region_id)).all())


def choose_regions(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """Return `data` with `regions` [] replaced by the regions that have data for its indicator now (kept []
    when there is none yet: the fit then takes the regions with data at its start)."""
    if data.get("regions"):
        return data
    return {**data, "regions": regions_with_data(session, data["indicator"])}


def model_config(model: RegisteredModel) -> dict[str, Any]:
    """Return the plain-dict configuration of a model that a fit depends on (everything but the schedule)."""
    return {
        "name": model.name, "family": model.family, "indicator": model.indicator,
        "regions": list(model.regions), "covariates": list(model.covariates), "spillover": model.spillover,
        "normalise": model.normalise, "horizon": model.horizon, "sampler": dict(model.sampler),
        "options": dict(model.options or {}),
    }


def spec_hash(config: dict[str, Any]) -> str:
    """Return the sha256 of the fit-relevant configuration (name excluded), used to skip unchanged refits."""
    relevant = {key: config[key] for key in CONFIG_FIELDS}
    if config.get("options"):  # no options: the hash models had before options existed (no needless refit)
        relevant["options"] = config["options"]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def check_references(session: Session, *, family: str, indicator: str, regions: list[str],
                     covariates: list[str], options: dict[str, Any] | None = None) -> None:
    """Return nothing if the indicator, covariates and regions exist, the indicator fits the family and the
    family accepts `options`.

    Raises UnknownIndicator, UnknownRegion, BadOptions, InputError.
    """
    kinds = dict(session.execute(select(Indicator.id, Indicator.kind)).all())
    if indicator not in kinds:
        raise UnknownIndicator(f"unknown indicator {indicator!r}")
    from models.core.registry import family as registered_family  # models imports PyMC: not with the app

    kind = registered_family(family).kind
    if kinds[indicator] != kind:
        raise InputError(f"a {family} model needs a {kind} indicator; {indicator!r} is {kinds[indicator]}")
    refused = registered_family(family).model.option_errors(options or {}, indicator)
    if refused:
        raise BadOptions(family, refused)
    missing = [c for c in covariates if c not in kinds]
    if missing:
        raise UnknownIndicator(f"unknown covariate indicator(s): {listed(missing)}")
    known = {rid for start in range(0, len(regions), 5000)
             for rid in session.scalars(select(Region.id).where(Region.id.in_(regions[start:start + 5000])))}
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise UnknownRegion(f"unknown region(s): {listed(unknown)}")
    if len(set(regions)) != len(regions):
        raise InputError("regions are listed more than once")


def model_by_name(session: Session, name: str) -> RegisteredModel:
    """Return the model called `name`.

    Raises ModelNotFound.
    """
    model = session.scalars(select(RegisteredModel).where(RegisteredModel.name == name)).first()
    if model is None:
        raise ModelNotFound(f"no model named {name!r}")
    return model


def create_model(session: Session, *, data: dict[str, Any], limits: dict[str, int] | None = None,
                 key_id: int | None = None, max_models_per_key: int | None = None) -> RegisteredModel:
    """Return the new model stored from `data` (a validated ModelIn dump); commits. `regions` [] is recorded as
    the regions with data for the indicator now (`choose_regions`); `limits` (max_regions, max_values) are
    checked by `check_fit_size` when given. `key_id` (the creating API key) is recorded as the owner, who may
    own at most `max_models_per_key` models.

    Raises ModelExists, TooManyModels, UnknownIndicator, UnknownRegion, InputError, FitTooLarge.
    """
    if session.scalars(select(RegisteredModel.id).where(RegisteredModel.name == data["name"])).first():
        raise ModelExists(f"a model named {data['name']!r} already exists")
    if key_id is not None and max_models_per_key is not None:
        owned = session.execute(select(func.count()).select_from(RegisteredModel)
                                .where(RegisteredModel.key_id == key_id)).scalar_one()
        if owned >= max_models_per_key:
            raise TooManyModels(f"this key already owns {owned} models; at most {max_models_per_key} "
                                "(FRAGILITY_MAX_MODELS_PER_KEY)")
    check_references(session, family=data["family"], indicator=data["indicator"], regions=data["regions"],
                     covariates=data["covariates"], options=data.get("options"))
    data = choose_regions(session, data)
    if limits:
        check_fit_size(data, **limits)
    now = utc_now()
    model = RegisteredModel(**data, created_at=now, updated_at=now, key_id=key_id)
    session.add(model)
    session.commit()
    return model


def update_model(session: Session, *, name: str, changes: dict[str, Any],
                 limits: dict[str, int] | None = None) -> RegisteredModel:
    """Return the model `name` with `changes` applied and stored; commits. `regions` [] (sent, or kept with a new
    indicator) is recorded as the regions with data now; `limits` as in create_model.

    Raises ModelNotFound, UnknownIndicator, UnknownRegion, InputError, FitTooLarge.
    """
    model = model_by_name(session, name)
    if "name" in changes and changes["name"] != name:
        raise InputError(f"the body names model {changes['name']!r} but the path names {name!r}; names cannot change")
    merged = {**model_config(model), **{k: v for k, v in changes.items() if k != "name"}}
    check_references(session, family=merged["family"], indicator=merged["indicator"], regions=merged["regions"],
                     covariates=merged["covariates"], options=merged["options"])
    if not merged["regions"]:
        merged = choose_regions(session, merged)
        changes = {**changes, "regions": merged["regions"]}
    if limits:
        check_fit_size(merged, **limits)
    for key, value in changes.items():
        if key != "name":
            setattr(model, key, value)
    model.updated_at = utc_now()
    session.commit()
    return model


def list_models(session: Session) -> list[RegisteredModel]:
    """Return every model, by name."""
    return list(session.scalars(select(RegisteredModel).order_by(RegisteredModel.name)).all())


def model_by_id(session: Session, model_id: int | None) -> RegisteredModel | None:
    """Return the model with this id, or None (also for a None id)."""
    return session.get(RegisteredModel, model_id) if model_id is not None else None


def model_names(session: Session) -> list[str]:
    """Return the name of every model."""
    return list(session.scalars(select(RegisteredModel.name)).all())


def models_of_indicator(session: Session, indicator: str, *, except_name: str) -> list[RegisteredModel]:
    """Return the models of `indicator` other than the one called `except_name`."""
    return list(session.scalars(select(RegisteredModel).where(RegisteredModel.indicator == indicator,
                                                              RegisteredModel.name != except_name)).all())


def scheduled_models(session: Session) -> list[tuple[int, str, str, Any, int | None]]:
    """Return (id, name, cron schedule, created_at, owner key id) of every model that has a schedule."""
    return [tuple(row) for row in session.execute(
        select(RegisteredModel.id, RegisteredModel.name, RegisteredModel.schedule, RegisteredModel.created_at,
               RegisteredModel.key_id)
        .where(RegisteredModel.schedule.is_not(None))
    ).all()]


def model_out(session: Session, model: RegisteredModel) -> dict[str, Any]:
    """Return the API dict of a model, with the number of its served version."""
    return model_dict(model, served_number(session, model.id))


def model_dict(model: RegisteredModel, served: int | None) -> dict[str, Any]:
    """Return the API dict of a model whose served version number is `served` (None: none)."""
    return {**model_config(model), "schedule": model.schedule, "served_version": served,
            "created_at": model.created_at, "updated_at": model.updated_at}


def models_out(session: Session) -> list[dict[str, Any]]:
    """Return the API dict of every model, by name, with its served version: one statement whatever the number of
    models (no query per model), reading only the version number of the versions."""
    rows = session.execute(select(RegisteredModel, served_number_of(RegisteredModel.id))
                           .order_by(RegisteredModel.name)).all()
    return [model_dict(model, served) for model, served in rows]


def region_dicts_for(session: Session, ids: list[str] | None) -> list[dict[str, Any]]:
    """Return region dicts (id, name, parent, neighbours) for `ids` (None/empty: all), neighbours kept inside
    the set; only those regions are read."""
    query = select(Region).order_by(Region.id)
    if ids:
        query = query.where(Region.id.in_(list(ids)))
    rows = session.scalars(query).all()
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

    A model recorded with no regions (created before its indicator had data) reads the regions that have data
    for its indicator now, never every stored region.

    Raises InputError when the model's indicator has no observations in its regions.
    """
    ids = config["regions"] or regions_with_data(session, config["indicator"])
    if not ids:
        raise InputError(f"no observations of {config['indicator']!r} in any region (model {config['name']!r})",
                         hint="Send observations with POST /v1/observations first.")
    regions = region_dicts_for(session, ids)
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

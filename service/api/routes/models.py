"""Routes of the model registry: create, change, list models; list versions; queue fits; list a model's jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from service.api.deps import ReadKeyInThread, SessionDep, SettingsDep, WriteKey
from service.api.ownership import check_owner
from service.api.pagination import CursorQuery, decode_cursor, page
from service.api.session_route import SessionRoute, json_answer
from service.crud import jobs as crud_jobs
from service.crud import models as crud
from service.crud.models import model_by_name
from service.crud.versions import list_versions as versions_of
from service.crud.versions import served_number, version_by_number, version_out
from service.errors import VersionNotFound, VersionNotServable
from service.schemas.data import ErrorOut, error_responses
from service.schemas.jobs import JobAccepted, JobListOut
from service.schemas.models import ModelIn, ModelListOut, ModelOut, ModelPatch, VersionListOut, check_schedule_interval

router = APIRouter(route_class=SessionRoute, prefix="/v1/models", tags=["models"])


@router.post("", response_model=ModelOut, status_code=status.HTTP_201_CREATED, responses=error_responses(409))
def create_model(body: ModelIn, session: SessionDep, settings: SettingsDep, key: WriteKey) -> dict:
    """Create a model; return it (409 if the name is taken, 422 for unknown indicator or regions, a schedule
    ticking more often than FRAGILITY_MIN_SCHEDULE_INTERVAL_SECONDS allows, or a fit over the size limits:
    FRAGILITY_MAX_MODEL_REGIONS, FRAGILITY_MAX_POSTERIOR_VALUES; 409 TooManyModels when the key already owns
    FRAGILITY_MAX_MODELS_PER_KEY models). `regions` [] is recorded as the regions that have data for the
    indicator now; the key is recorded as the model's owner (its scheduled refits count against its queue)."""
    check_schedule_interval(body.schedule, settings.min_schedule_interval_seconds)
    model = crud.create_model(session, data=body.model_dump(), limits=settings.fit_limits(), key_id=key.key_id,
                              max_models_per_key=settings.max_models_per_key)
    return crud.model_out(session, model)


@router.get("", response_model=ModelListOut)
def list_models(session: SessionDep, _: ReadKeyInThread) -> Response:
    """Return every model with the version it serves."""
    # one threadpool hop, one connection, two statements (the key, the models with their served versions)
    data = crud.models_out(session)
    return json_answer(ModelListOut, {"data": data, "count": len(data)})


@router.get("/{name}", response_model=ModelOut)
def get_model(name: str, session: SessionDep, _: ReadKeyInThread) -> Response:
    """Return one model."""
    return json_answer(ModelOut, crud.model_out(session, model_by_name(session, name)))


@router.put("/{name}", response_model=ModelOut)
def replace_model(name: str, body: ModelIn, session: SessionDep, settings: SettingsDep, key: WriteKey) -> dict:
    """Replace a model's definition (the name cannot change); return it. Existing versions are kept. Only the key
    that created the model, or an admin key, may (403 otherwise)."""
    check_owner(key, model_by_name(session, name).key_id, f"model {name!r}")
    check_schedule_interval(body.schedule, settings.min_schedule_interval_seconds)
    model = crud.update_model(session, name=name, changes=body.model_dump(), limits=settings.fit_limits())
    return crud.model_out(session, model)


@router.patch("/{name}", response_model=ModelOut)
def change_model(name: str, body: ModelPatch, session: SessionDep, settings: SettingsDep, key: WriteKey) -> dict:
    """Change the given fields of a model; return it. Only the key that created the model, or an admin key, may
    (403 otherwise)."""
    check_owner(key, model_by_name(session, name).key_id, f"model {name!r}")
    check_schedule_interval(body.schedule, settings.min_schedule_interval_seconds)
    model = crud.update_model(session, name=name, changes=body.model_dump(exclude_unset=True),
                              limits=settings.fit_limits())
    return crud.model_out(session, model)


@router.get("/{name}/versions", response_model=VersionListOut)
def list_versions(name: str, session: SessionDep, _: ReadKeyInThread,
                  limit: Annotated[int, Query(ge=1, le=500, description="versions per page, at most 500")] = 100,
                  cursor: CursorQuery = None) -> Response:
    """Return the versions of a model (newest first) with diagnostics, gate verdict and promoted flag, one page at
    a time (`limit`, `cursor` = the previous page's `next_cursor`)."""
    model = model_by_name(session, name)
    served = served_number(session, model.id)
    before = decode_cursor(cursor, (int,))
    versions = versions_of(session, model_id=model.id, before=before[0] if before else None, limit=limit + 1)
    versions, next_cursor = page(versions, limit, lambda version: [version.number])
    data = [version_out(v, served=served) for v in versions]
    return json_answer(VersionListOut, {"model": name, "served_version": served, "data": data, "count": len(data),
                                        "next_cursor": next_cursor})


FIT_RESPONSES = {
    **error_responses(409),
    200: {"model": JobAccepted, "description": "the model already had a fit queued: its job id, already_queued true"},
    429: {"model": ErrorOut, "description": "rate limited, or the key has FRAGILITY_MAX_QUEUED_JOBS_PER_KEY jobs "
                                             "queued (QueueFull; see Retry-After)"},
}


@router.post("/{name}/fit", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED, responses=FIT_RESPONSES)
def fit_model(name: str, session: SessionDep, settings: SettingsDep, key: WriteKey, response: Response) -> dict:
    """Queue a fit of the model (it always runs); return the job id to poll at GET /v1/jobs/{id} (202).

    A model has at most one fit waiting: while one is queued (not yet running), asking again returns that
    job with `already_queued: true` and status 200 instead of queueing another.
    """
    model = model_by_name(session, name)
    check_owner(key, model.key_id, f"model {name!r}")
    fit = crud_jobs.request_fit(session, model=model, max_attempts=settings.job_max_attempts, key_id=key.key_id,
                                max_queued_per_key=settings.max_queued_jobs_per_key)
    if fit.already_queued:
        response.status_code = status.HTTP_200_OK
        return {"job_id": fit.job_id, "already_queued": True,
                "detail": f"model {name!r} already has fit job {fit.job_id} queued; no second fit was queued"}
    return {"job_id": fit.job_id, "already_queued": False}


@router.post("/{name}/versions/{number}/forecast", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(409))
def rebuild_paths(name: str, number: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep,
                  settings: SettingsDep, key: WriteKey) -> dict:
    """Queue a job simulating a gate-passing version's forecast paths again from its posterior (repairs
    a version broken by a missing or corrupt paths file); return the job id."""
    model = model_by_name(session, name)
    check_owner(key, model.key_id, f"model {name!r}")
    version = version_by_number(session, model.id, number)
    if version is None:
        raise VersionNotFound(f"model {name!r} has no version {number}")
    if not version.gate_passed:
        raise VersionNotServable(f"version {number} of {name!r} did not pass the gate; its paths are never served")
    job_id = crud_jobs.enqueue_job(session, kind="forecast", model=model, max_attempts=settings.job_max_attempts,
                                   payload={"version": number}, key_id=key.key_id,
                                   max_queued_per_key=settings.max_queued_jobs_per_key)
    return {"job_id": job_id}


@router.get("/{name}/jobs", response_model=JobListOut)
def model_jobs(name: str, session: SessionDep, _: ReadKeyInThread,
               limit: Annotated[int, Query(ge=1, le=200)] = 20) -> Response:
    """Return the model's latest jobs (fits, backtests, forecasts), newest first (the page's job table)."""
    model = model_by_name(session, name)
    data = crud_jobs.jobs_out(session, crud_jobs.list_jobs(session, model=model, status=None, limit=limit))
    return json_answer(JobListOut, {"model": name, "data": data, "count": len(data)})

"""Routes of jobs: status, attempts, timings, version made, error; cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from service.api.deps import ReadKey, ReadKeyInThread, SessionDep, WriteKey
from service.api.ownership import check_owner
from service.api.pagination import CursorQuery, decode_cursor, page
from service.api.session_route import SessionRoute, json_answer
from service.crud import jobs as crud
from service.crud import queue
from service.crud.models import model_by_name
from service.db.tables import utc_now
from service.errors import JobFinished
from service.schemas.data import error_responses
from service.schemas.jobs import JobListOut, JobOut

router = APIRouter(route_class=SessionRoute, prefix="/v1/jobs", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the job id returned when the job was queued")]


@router.get("", response_model=JobListOut, response_model_exclude_unset=True, responses=error_responses(404))
def list_jobs(
    session: SessionDep,
    _: ReadKeyInThread,
    model: str | None = None,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "skipped"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="jobs per page, at most 1000")] = 100,
    cursor: CursorQuery = None,
) -> Response:
    """Return the newest jobs first, optionally of one model and/or one status, one page at a time (`limit`,
    `cursor` = the previous page's `next_cursor`)."""
    owner = model_by_name(session, model) if model is not None else None
    before = decode_cursor(cursor, (int,))
    jobs = crud.list_jobs(session, model=owner, status=status, limit=limit + 1, before=before[0] if before else None)
    jobs, next_cursor = page(jobs, limit, lambda job: [job.id])
    data = crud.jobs_out(session, jobs)
    return json_answer(JobListOut, {"data": data, "count": len(data), "next_cursor": next_cursor}, exclude_unset=True)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: JobId, session: SessionDep, _: ReadKey) -> dict:
    """Return a job: kind, status (queued|running|succeeded|failed|cancelled|skipped), attempts, timings,
    version, error; `worker_lost` and `detail` when it is running but its worker stopped renewing the lease."""
    return crud.job_out(session, crud.get_job(session, job_id=job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, responses=error_responses(409))
def cancel_job(job_id: JobId, session: SessionDep, key: WriteKey) -> dict:
    """Cancel a queued or running job and return it: a running one's computation is killed by its worker within
    FRAGILITY_JOB_CHECK_SECONDS (its pool process ended, its attempt's files removed), nothing of it recorded.
    Only the key that queued it (a scheduled refit: the model's owner), or an admin key, may (403 otherwise)."""
    job = crud.get_job(session, job_id=job_id)
    check_owner(key, job.key_id, f"job {job_id}")
    if not queue.cancel(session, job_id=job_id, now=utc_now()):
        raise JobFinished(f"job {job_id} is already {job.status}")
    session.commit()
    session.refresh(job)
    return crud.job_out(session, job)

"""Routes of jobs: status, attempts, timings, version made, error; cancel."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ReadKey, SessionDep, WriteKey
from service.crud import jobs as crud
from service.errors import Conflict
from service.jobs import queue
from service.tables_registry import utc_now
from service.schemas.jobs import JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class JobFinished(Conflict):
    """The job has already ended."""

    hint = "Only queued or running jobs can be cancelled."


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: int, session: SessionDep, _: ReadKey) -> dict:
    """Return a job: kind, status (queued|running|succeeded|failed|cancelled), attempts, timings, version, error."""
    return crud.job_out(session, crud.get_job(session, job_id=job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: int, session: SessionDep, _: WriteKey) -> dict:
    """Cancel a queued or running job (a running one finishes but its result is discarded); return it."""
    job = crud.get_job(session, job_id=job_id)
    if not queue.cancel(session, job_id=job_id, now=utc_now()):
        raise JobFinished(f"job {job_id} is already {job.status}")
    session.commit()
    session.refresh(job)
    return crud.job_out(session, job)

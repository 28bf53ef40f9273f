"""Routes of backtests: queue a rolling-origin backtest of a model, read its scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from service.api.deps import ReadKey, SessionDep, SettingsDep, WriteKey
from service.api.ownership import check_owner
from service.api.session_route import SessionRoute
from service.crud import jobs as crud
from service.crud.models import model_by_name
from service.schemas.jobs import BacktestIn, BacktestOut, JobAccepted

router = APIRouter(route_class=SessionRoute, tags=["backtests"])


@router.post("/v1/models/{name}/backtests", response_model=JobAccepted, status_code=status.HTTP_202_ACCEPTED)
def queue_backtest(name: str, body: BacktestIn, session: SessionDep, settings: SettingsDep, key: WriteKey) -> dict:
    """Queue a backtest (model, model without spillover, baselines); return the job id."""
    model = model_by_name(session, name)
    check_owner(key, model.key_id, f"model {name!r}")
    job_id = crud.enqueue_job(session, kind="backtest", model=model, max_attempts=settings.job_max_attempts,
                              payload=body.model_dump(), key_id=key.key_id,
                              max_queued_per_key=settings.max_queued_jobs_per_key)
    return {"job_id": job_id}


@router.get("/v1/backtests/{job_id}", response_model=BacktestOut)
def get_backtest(job_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, _: ReadKey) -> dict:
    """Return a backtest job's status and, once it succeeded, its scores per forecaster/horizon and per region."""
    return crud.backtest_out(session, job_id=job_id)

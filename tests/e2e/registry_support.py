"""Builders shared by the registry tests: a tiny synthetic panel, its seeding, fast fit settings."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

from indicators import simulate_count_panel

N_REGIONS, N_PERIODS = 4, 60
# Tiny fits (measured on this panel, 2 cores): 2 chains x 1000+1000 draws give R-hat 1.02-1.03 and
# bulk ESS 117-174 in ~2 s of sampling; 20+20 draws give R-hat 1.3-1.6 and ESS 5-9, and can never
# reach a bulk ESS of 50 from 40 draws. The gate below separates the two; divergences are left out
# of it (the tiny default model has many; not our subject).
GATE_ENV = {"FRAGILITY_GATE__MAX_RHAT": "1.2", "FRAGILITY_GATE__MIN_ESS_BULK": "50",
            "FRAGILITY_GATE__MAX_DIVERGENCES": "100000"}
GATE = {"max_rhat": 1.2, "min_ess_bulk": 50, "max_divergences": 100_000}
GOOD_SAMPLER = {"method": "nutpie", "draws": 1000, "tune": 1000, "chains": 2, "seed": 1}
STARVED_SAMPLER = {"method": "nutpie", "draws": 10, "tune": 10, "chains": 2, "seed": 1}


def tiny_panel(seed: int = 3):
    """Return (panel, truth) of the synthetic count panel used by the registry tests."""
    return simulate_count_panel(N_REGIONS, N_PERIODS, seed=seed, graph="ring")


def regions_payload(panel) -> list[dict]:
    """Return the panel's regions in the POST /v1/regions shape."""
    return [{"id": r["id"], "name": r["name"], "neighbours": list(r["neighbours"])} for r in panel.region_dicts]


def observations_payload(panel) -> list[dict]:
    """Return the panel's observed cells in the POST /v1/observations shape."""
    frame = panel.to_frame()
    return [{"region": row.region, "indicator": row.indicator, "period": row.period, "value": float(row.value)}
            for row in frame.itertuples()]


def model_payload(name: str = "attacks-model", sampler: dict | None = None, **extra) -> dict:
    """Return a POST /v1/models body for the tiny panel."""
    return {"name": name, "family": "count", "indicator": "attacks", "regions": [], "covariates": [],
            "spillover": True, "horizon": 6, "sampler": sampler or GOOD_SAMPLER, **extra}


def seed_database(database, panel, indicator: dict | list[dict] | None = None) -> None:
    """Store the panel's regions, indicators and observations straight into the data tables; returns nothing.

    `indicator` is the Indicator row's fields (id, kind, unit, description), or a list of them for a panel
    of several indicators; default the count `attacks`.
    """
    from service.db.tables import Indicator, Observation, Region

    now = datetime.now(UTC)
    batch = str(uuid.uuid4())
    with database.session() as session:
        for region in regions_payload(panel):
            session.add(Region(id=region["id"], name=region["name"], parent=None,
                               neighbours=[{"id": n, "weight": 1.0} for n in region["neighbours"]], updated_at=now))
        rows = indicator or {"id": "attacks", "kind": "count", "unit": "events", "description": "synthetic"}
        for fields in rows if isinstance(rows, list) else [rows]:
            session.add(Indicator(**fields, updated_at=now))
        session.flush()
        for row in observations_payload(panel):
            session.add(Observation(region_id=row["region"], indicator_id=row["indicator"], period=row["period"],
                                    value=row["value"], updated_at=now, batch_id=batch))
        session.commit()


@contextmanager
def worker_registry(root, panel, *, indicators: list[dict], models: list[dict], worker_name: str):
    """Yield (database, settings, worker, {model name: id}): a migrated SQLite file under `root` seeded with
    `panel` (`indicators`: Indicator rows), the `models` created (POST /v1/models bodies) and a real Worker
    on a one-process LocalExecutor with the registry tests' lenient gate; closed afterwards."""
    from service.crud.models import create_model
    from service.db.engine import Database, run_migrations
    from service.executors import LocalExecutor
    from service.jobs.worker import Worker
    from service.settings import GateThresholds, Settings

    url = f"sqlite:///{root}/fragility.db"
    run_migrations(url)
    database = Database(url)
    seed_database(database, panel, indicator=indicators)
    settings = Settings(database_url=url, artifacts=root / "artifacts", gate=GateThresholds(**GATE),
                        job_lease_seconds=30)
    executor = LocalExecutor(1)
    worker = Worker(database, settings, executor=executor, name=worker_name)
    with database.session() as session:
        ids = {body["name"]: create_model(session, data=body).id for body in models}
    try:
        yield database, settings, worker, ids
    finally:
        executor.close()
        database.dispose()


def fit_now(database, worker, model_id: int) -> dict:
    """Return the result of one explicit fit job of `model_id`, run to the end by `worker`; asserts it succeeded."""
    from service.crud import queue
    from service.db.tables import Job, utc_now

    with database.session() as session:
        job_id = queue.enqueue(session, kind="fit", model_id=model_id, now=utc_now(), reason="explicit")
        session.commit()
    assert worker.run_once() == job_id
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job.status == "succeeded", job.error
        return dict(job.result)


def backtest_now(database, worker, model_id: int, payload: dict) -> dict:
    """Return the stored result (service.crud.jobs.backtest_out) of one backtest job of `model_id` with `payload`,
    run to the end by `worker`; asserts it succeeded and that every model score is a CRPS >= 0."""
    from service.crud import queue
    from service.crud.jobs import backtest_out
    from service.db.tables import utc_now

    with database.session() as session:
        job_id = queue.enqueue(session, kind="backtest", model_id=model_id, now=utc_now(), payload=payload)
        session.commit()
    assert worker.run_once() == job_id
    with database.session() as session:
        out = backtest_out(session, job_id=job_id)
    assert out["status"] == "succeeded", out["error"]
    model_rows = [row for row in out["scores"] if row["forecaster"] == "model"]
    assert model_rows and all(row["crps"] is not None and row["crps"] >= 0 for row in model_rows), model_rows
    return out

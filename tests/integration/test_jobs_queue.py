"""The job queue on a real database: one claim per job, leases that expire, ticks enqueued once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from service.crud import queue
from service.db.engine import Database, run_migrations
from service.db.tables import Job, RegisteredModel
from service.jobs.scheduler import enqueue_due, latest_tick

LEASE = timedelta(seconds=30)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry_database_url(database_url):
    """Return the module's database URL (a SQLite file, or a fresh PostgreSQL database)."""
    return database_url


@pytest.fixture
def db(registry_database_url):
    """Return a migrated Database, emptied of registry rows, with one model row (id in `db.model_id`)."""
    run_migrations(registry_database_url)
    database = Database(registry_database_url)
    with database.session() as session:
        for table in ("backtests", "jobs", "model_versions", "models"):
            session.execute(text(f"DELETE FROM {table}"))
        session.commit()
        model = RegisteredModel(name="m", family="count", indicator="attacks", regions=[], covariates=[],
                                spillover=True, normalise="target", horizon=6, sampler={},
                                schedule="*/5 * * * *", created_at=T0 - timedelta(days=1),
                                updated_at=T0 - timedelta(days=1))
        session.add(model)
        session.commit()
        database.model_id = model.id
    yield database
    database.dispose()


def enqueue(db, n=1, now=T0):
    with db.session() as session:
        ids = [queue.enqueue(session, kind="fit", model_id=db.model_id, now=now) for _ in range(n)]
        session.commit()
    return ids


def test_a_job_is_claimed_once_and_reclaimed_only_after_its_lease(db):
    (job_id,) = enqueue(db)
    with db.session() as session:
        first = queue.claim_next(session, worker="w1", lease=LEASE, now=T0)
        session.commit()
        assert first is not None and first.id == job_id and first.attempts == 1
        assert queue.claim_next(session, worker="w2", lease=LEASE, now=T0 + timedelta(seconds=29)) is None
        assert queue.heartbeat(session, job_id=job_id, worker="w1", lease=LEASE, now=T0 + timedelta(seconds=20))
        session.commit()
        # lease now runs to T0+50 s: still not claimable at T0+45 s
        assert queue.claim_next(session, worker="w2", lease=LEASE, now=T0 + timedelta(seconds=45)) is None
        second = queue.claim_next(session, worker="w2", lease=LEASE, now=T0 + timedelta(seconds=51))
        session.commit()
        assert second is not None and second.id == job_id and second.attempts == 2 and second.worker == "w2"
        # the first worker lost the job: its heartbeat and finish do nothing
        assert not queue.heartbeat(session, job_id=job_id, worker="w1", lease=LEASE, now=T0 + timedelta(seconds=52))
        assert not queue.finish(session, job_id=job_id, worker="w1", status="succeeded", now=T0)
        assert queue.finish(session, job_id=job_id, worker="w2", status="succeeded", now=T0 + timedelta(seconds=60))
        session.commit()
        row = session.get(Job, job_id)
        session.refresh(row)
        assert (row.status, row.worker, row.attempts) == ("succeeded", "w2", 2)


def test_requeued_job_waits_for_run_after_and_cancel_stops_it(db):
    a, b = enqueue(db, 2)
    with db.session() as session:
        job = queue.claim_next(session, worker="w", lease=LEASE, now=T0)
        assert job.id == a
        assert queue.requeue(session, job_id=a, worker="w", run_after=T0 + timedelta(seconds=10), error="boom")
        nxt = queue.claim_next(session, worker="w", lease=LEASE, now=T0 + timedelta(seconds=1))
        assert nxt.id == b
        assert queue.cancel(session, job_id=a, now=T0)
        assert queue.claim_next(session, worker="w", lease=LEASE, now=T0 + timedelta(seconds=11)) is None
        session.commit()


def test_concurrent_workers_never_claim_the_same_job(db):
    ids = enqueue(db, 20)
    claims: dict[str, list[int]] = {}

    def drain(name):
        got = []
        while True:
            with db.session() as session:
                job = queue.claim_next(session, worker=name, lease=LEASE, now=T0)
                session.commit()
            if job is None:
                break
            got.append(job.id)
        claims[name] = got

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [j for got in claims.values() for j in got]
    assert sorted(claimed) == sorted(ids), claims


def test_a_tick_is_enqueued_once_by_concurrent_schedulers(db):
    now = T0 + timedelta(minutes=7)
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def schedule():
        barrier.wait()
        results.append(enqueue_due(db, now=now, max_attempts=3))

    threads = [threading.Thread(target=schedule) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(len(r) for r in results) == 1, results
    with db.session() as session:
        ticks = session.scalars(select(Job.tick).where(Job.reason == "scheduled")).all()
    assert ticks == [T0 + timedelta(minutes=5)]
    # the next pass in the same five minutes adds nothing; the next tick, while that fit still waits, is
    # recorded as skipped (issue 19, item 2); once it ran, the tick after adds one
    assert enqueue_due(db, now=now + timedelta(minutes=2), max_attempts=3) == []
    assert enqueue_due(db, now=now + timedelta(minutes=4), max_attempts=3) == []
    with db.session() as session:
        rows = session.execute(select(Job.status, Job.result).where(Job.reason == "scheduled").order_by(Job.id)).all()
        assert [status for status, _ in rows] == ["queued", "skipped"]
        assert rows[1].result["skipped"] is True and "was queued" in rows[1].result["reason"]
        session.execute(update(Job).where(Job.status == "queued").values(status="succeeded"))
        session.commit()
    assert len(enqueue_due(db, now=now + timedelta(minutes=9), max_attempts=3)) == 1


def test_latest_tick_is_at_or_before_now():
    assert latest_tick("*/5 * * * *", T0 + timedelta(minutes=7, seconds=3)) == T0 + timedelta(minutes=5)
    assert latest_tick("*/5 * * * *", T0) == T0
    assert latest_tick("0 3 1 * *", T0) == datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def scheduler_process(url: str, now_iso: str, start_at: float, out) -> None:
    """Run one scheduler pass at `now_iso` in a separate process, starting at wall time `start_at`."""
    import time as _time

    database = Database(url)
    while _time.time() < start_at:
        _time.sleep(0.001)
    out.put(enqueue_due(database, now=datetime.fromisoformat(now_iso), max_attempts=3))
    database.dispose()


def test_two_scheduler_processes_enqueue_one_job_per_tick(db, registry_database_url):
    import multiprocessing
    import time as _time

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = _time.time() + 3.0
    now = (T0 + timedelta(minutes=17)).isoformat()
    processes = [context.Process(target=scheduler_process, args=(registry_database_url, now, start_at, out))
                 for _ in range(2)]
    for p in processes:
        p.start()
    results = [out.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 1], results
    with db.session() as session:
        ticks = session.scalars(select(Job.tick).where(Job.reason == "scheduled")).all()
    assert ticks == [T0 + timedelta(minutes=15)]


def test_backtest_progress_counts_origins_done_across_workers_while_the_job_runs(db, caplog):
    from models.evaluation.backtest import TaskOutcome
    from service.jobs.progress import BacktestProgress

    with db.session() as session:
        job_id = queue.enqueue(session, kind="backtest", model_id=db.model_id, now=T0,
                               payload={"origins": 2, "horizon": 3})
        job = queue.claim_next(session, worker="w1", lease=LEASE, now=T0)
        session.commit()
    report = BacktestProgress(db, job, ["2020-01", "2020-04"], ["model", "zero"])
    finished = [TaskOutcome("model", "2020-04", {}, 3.0, worker="tcp://10.0.0.2:4000"),
                TaskOutcome("model", "2020-01", {}, 4.0, worker="tcp://10.0.0.1:4000"),
                TaskOutcome("zero", "2020-04", None, 0.1, error="ValueError: boom", worker="tcp://10.0.0.1:4000")]
    with caplog.at_level("INFO", logger="fragility.worker"):
        for done, outcome in enumerate(finished, start=1):
            report(done, 4, outcome)
    with db.session() as session:
        progress = session.get(Job, job_id).result["progress"]
    assert progress == {"tasks_done": 3, "tasks": 4, "origins_done": 1, "origins": 2, "origins_finished": ["2020-04"],
                        "tasks_by_worker": {"tcp://10.0.0.1:4000": 2, "tcp://10.0.0.2:4000": 1}, "tasks_failed": 1}
    assert f"backtest job {job_id}: zero at 2020-04 failed on tcp://10.0.0.1:4000 in 0.1 s; tasks 3/4, " \
           "origins 1/2 done" in caplog.messages
    with db.session() as session:  # another worker took the job over: the old one's progress is not written
        queue.claim_next(session, worker="w2", lease=LEASE, now=T0 + timedelta(seconds=31))
        session.commit()
        assert not queue.report_progress(session, job_id=job_id, worker="w1", progress={"tasks_done": 4})
        session.commit()
        assert session.get(Job, job_id).result["progress"]["tasks_done"] == 3
        assert queue.finish(session, job_id=job_id, worker="w2", status="succeeded", now=T0, result={"origins": []})
        session.commit()
        session.expire_all()
        assert session.get(Job, job_id).result == {"origins": []}

"""The served version is looked up once when its remembered second is up, however many requests ask at that
moment; meanwhile the forecast route's memory answers from the previous one (service/serving/path_cache.py).
Real SQLite database through the service's migrations; statements counted on its engine."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event

from service.crud.indicators import upsert_indicators
from service.crud.models import create_model
from service.crud.versions import add_version
from service.db.engine import Database, run_migrations
from service.db.tables import utc_now
from service.serving.path_cache import PathCache

MODEL = {"name": "lookup", "family": "count", "indicator": "attacks", "regions": [], "covariates": [],
         "spillover": False, "horizon": 3,
         "sampler": {"method": "nutpie", "draws": 100, "tune": 100, "chains": 1, "seed": 1}}


@pytest.fixture
def database(tmp_path):
    """Return a database holding model `lookup` with one promoted version (its files are never read here)."""
    url = f"sqlite:///{tmp_path}/lookup.db"
    run_migrations(url)
    database = Database(url)
    with database.session() as session:
        upsert_indicators(session=session, items=[{"id": "attacks", "kind": "count", "unit": "events"}])
        model = create_model(session, data=MODEL)
        add_version(session, model_id=model.id, number=1, data_hash="d" * 64, spec_hash="s" * 64,
                    posterior_file="posterior.nc", posterior_sha256="0" * 64, paths_file="paths.npz",
                    paths_sha256="1" * 64, paths_horizon=3, paths_draws=10, paths_seed=1, gate_passed=True,
                    promoted_at=utc_now())
        session.commit()
    yield database
    database.dispose()


def expire(cache: PathCache, name: str) -> None:
    """Make the remembered served version of `name` one that expired a moment ago; returns nothing."""
    _, version = cache.served[(name, None)]
    cache.served[(name, None)] = (time.monotonic() - 0.01, version)


def held_lookups(database: Database, started: threading.Event, proceed: threading.Event) -> list[str]:
    """Return the list that collects every statement reading the models table; the first one waits, after
    setting `started`, until `proceed` is set (a lookup in flight)."""
    lookups: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM models" in statement:
            lookups.append(statement)
            if len(lookups) == 1:
                started.set()
                proceed.wait(10)

    return lookups


def test_concurrent_asks_after_expiry_make_one_lookup_and_the_route_answers_from_the_previous_one(database):
    cache = PathCache("memory://lookup-test")
    with database.session() as session:
        first = cache.served_version(session, "lookup", None)
    expire(cache, "lookup")
    assert cache.remembered("lookup", None) is None  # expired, and nobody is looking it up: ask the database
    started, proceed = threading.Event(), threading.Event()
    lookups = held_lookups(database, started, proceed)
    answers: list = []

    def ask() -> None:
        with database.session() as session:
            answers.append(cache.served_version(session, "lookup", None))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert started.wait(10)
    assert cache.remembered("lookup", None) == first  # a lookup is in flight: the previous answer serves
    proceed.set()
    for thread in threads:
        thread.join(10)
    assert len(answers) == 8 and all(answer == first for answer in answers)
    assert len(lookups) == 1  # 8 concurrent asks, one read of the models table
    assert cache.remembered("lookup", None) == first


def test_the_previous_version_is_not_served_past_its_grace(database, monkeypatch):
    import service.serving.path_cache as path_cache

    cache = PathCache("memory://lookup-test")
    with database.session() as session:
        cache.served_version(session, "lookup", None)
    monkeypatch.setattr(path_cache, "STALE_GRACE_SECONDS", 0.0)
    expire(cache, "lookup")
    started, proceed = threading.Event(), threading.Event()
    held_lookups(database, started, proceed)

    def ask() -> None:
        with database.session() as session:
            cache.served_version(session, "lookup", None)

    thread = threading.Thread(target=ask)
    thread.start()
    assert started.wait(10)
    assert cache.remembered("lookup", None) is None  # in flight, but the grace is over: the route must ask too
    proceed.set()
    thread.join(10)

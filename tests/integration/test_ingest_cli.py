"""The database layer and the CLI on SQLite and PostgreSQL: migrations match the tables, SQLite pragmas,
`fragility ingest` through the same validation and upsert as HTTP, and meaningful exit codes."""

from __future__ import annotations

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

import service.db.tables  # noqa: F401  (registry tables share the metadata)
from service.crud.indicators import upsert_indicators
from service.crud.observations import count_observations
from service.crud.regions import upsert_regions
from service.db.engine import Database, current_revisions, head_revisions, run_migrations
from service.db.tables import Base
from tests.conftest import cli

DATA_TABLES = {"regions", "indicators", "observations", "observation_revisions", "api_keys"}


@pytest.fixture(scope="module")
def db(database_url):
    """Return the migrated module database holding two regions and two indicators."""
    run_migrations(database_url)
    database = Database(database_url)
    with database.session() as session:
        upsert_regions(session=session, items=[{"id": "AAA", "name": "A", "neighbours": ["BBB"]},
                                               {"id": "BBB", "name": "B", "neighbours": ["AAA"]}])
        upsert_indicators(session=session, items=[{"id": "attacks", "kind": "count"},
                                                  {"id": "control", "kind": "share"}])
    yield database
    database.dispose()


def test_migrations_reach_head_and_match_the_tables(db):
    assert current_revisions(db.engine) == head_revisions(db.url)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    ours = [d for d in differences if any(t in repr(d) for t in DATA_TABLES)]
    assert ours == [], ours


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas only")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_cli_ingests_csv_and_json_like_http(db, tmp_path):
    env = {"FRAGILITY_DATABASE_URL": db.url, "PATH": "/usr/bin:/bin"}
    csv = tmp_path / "obs.csv"
    csv.write_text("region,indicator,period,value\nAAA,attacks,2020-01,4\nBBB,control,2020-01,0.25\n")
    done = cli(["ingest", str(csv), "--json"], env)
    assert done.returncode == 0, done.stderr
    assert {k: v for k, v in json.loads(done.stdout).items() if k != "batch_id"} == {
        "inserted": 2, "updated": 0, "unchanged": 0}
    payload = tmp_path / "obs.json"
    payload.write_text(json.dumps({"observations": [
        {"region": "AAA", "indicator": "attacks", "period": "2020-01", "value": 5},
        {"region": "AAA", "indicator": "attacks", "period": "2020-02", "value": 1}]}))
    done = cli(["ingest", str(payload), "--json"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["updated"] == 1 and json.loads(done.stdout)["inserted"] == 1


def test_cli_bad_rows_exit_1_and_store_nothing(db, tmp_path):
    env = {"FRAGILITY_DATABASE_URL": db.url, "PATH": "/usr/bin:/bin"}
    with db.session() as session:
        before = count_observations(session=session)
    bad = tmp_path / "bad.csv"
    bad.write_text("region,indicator,period,value\nAAA,attacks,2019-01,1\nAAA,control,2019-01,1.5\n")
    done = cli(["ingest", str(bad)], env)
    assert done.returncode == 1
    assert "line 3 (row 1): value" in done.stderr and "hint:" in done.stderr  # the header is line 1
    as_json = json.loads(cli(["ingest", str(bad), "--json"], env).stdout)
    assert as_json["error"] == "BatchRejected" and (as_json["errors"][0]["row"], as_json["errors"][0]["line"]) == (1, 3)
    with db.session() as session:
        assert count_observations(session=session) == before


def test_cli_exit_codes_for_usage_and_unreachable_database(tmp_path):
    usage = cli(["keys", "create", "--scope", "root"], {"PATH": "/usr/bin:/bin"})
    assert usage.returncode == 2
    down = cli(["keys", "list"], {"FRAGILITY_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
                                  "PATH": "/usr/bin:/bin"})
    assert down.returncode == 3 and "unreachable" in down.stderr and "hint:" in down.stderr


def test_an_unreachable_server_exits_3_with_error_and_hint_lines(tmp_path):
    from tests.conftest import free_port

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"PATH": "/usr/bin:/bin", "FRAGILITY_URL": down}
    asked = cli(["forecast", "m", "--region", "IRN", "--horizon", "3"], env)
    assert asked.returncode == 3, asked.stderr
    assert f"error: cannot reach the server at {down}" in asked.stderr and "hint: Start the server" in asked.stderr
    out = tmp_path / "paths.csv"
    fetched = cli(["paths", "m", "--out", str(out)], env)
    assert fetched.returncode == 3 and not out.exists() and not list(tmp_path.iterdir()), fetched.stderr


def test_commands_say_which_store_and_a_new_empty_one_says_so(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    csv = other / "obs.csv"
    csv.write_text("region,indicator,period,value\nIRN,attacks,2020-01,4\n")
    env = {"FRAGILITY_DATABASE_URL": "sqlite:///fragility.db", "PATH": "/usr/bin:/bin"}
    done = cli(["ingest", str(csv)], env, cwd=other)
    assert done.returncode == 1 and "store: sqlite:///fragility.db (created now: empty)" in done.stderr
    assert "unknown region 'IRN'" in done.stderr and "created by this command and is empty" in done.stderr
    again = cli(["ingest", str(csv)], env, cwd=other)  # the store exists now: no "created" note
    assert "store: sqlite:///fragility.db" in again.stderr and "created" not in again.stderr


def test_concurrent_batches_on_the_same_keys_keep_every_value_as_a_revision(db):
    from concurrent.futures import ThreadPoolExecutor

    from indicators import Observation
    from service.crud.observations import count_revisions, read_series, upsert_batch

    periods = [f"2015-{m:02d}" for m in range(1, 13)]

    def send(value: float):
        batch = [Observation("BBB", "attacks", p, value) for p in periods]
        with db.session() as session:
            return upsert_batch(session=session, batch=batch)

    with db.session() as session:
        revisions_before = count_revisions(session=session)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, [1.0, 2.0, 3.0, 4.0]))
    assert sum(r.inserted for r in results) == len(periods)
    assert sum(r.updated for r in results) == 3 * len(periods)  # each later batch revises the one before
    with db.session() as session:
        assert count_revisions(session=session) - revisions_before == 3 * len(periods)
        final = {v for _, v in read_series(session=session, region="BBB", indicator="attacks",
                                           start="2015-01", end="2015-12")}
    assert len(final) == 1 and final <= {1.0, 2.0, 3.0, 4.0}

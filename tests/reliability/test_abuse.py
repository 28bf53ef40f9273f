"""Abuse of the API (in-process app on SQLite): per-key rate limits with 429 and Retry-After, body and
batch caps, keys stored only as hashes, compared in constant time and never logged, read keys that try
to write or fit, a key revoked with `fragility keys revoke`, and an exhausted connection pool (503)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import cli
from tests.reliability.conftest import Seeded

ROW = {"region": "R01", "indicator": "attacks", "period": "2001-01", "value": 1}


def test_rate_limit_is_per_key_with_retry_after(seeded: Seeded):
    app_client = seeded.client("write", rate_limit="5/minute")
    with app_client as writer:
        statuses = [writer.get("/v1/regions").status_code for _ in range(5)]
        assert statuses == [200] * 5
        limited = writer.post("/v1/observations", json={"observations": [ROW]})
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["error"] == "RateLimited" and "Retry-After" in limited.json()["hint"]
        other = writer.get("/v1/regions", headers={"Authorization": f"Bearer {seeded.keys['read']}"})
        assert other.status_code == 200  # another key has its own budget
        anonymous = writer.get("/v1/regions", headers={"Authorization": ""})
        assert anonymous.status_code == 401  # anonymous callers are counted per IP, not on a key's budget
    with seeded.database.session() as session:
        assert session.execute(text("SELECT count(*) FROM observations WHERE period = '2001-01'")).scalar() == 0


def test_unknown_keys_cannot_be_guessed_faster_than_the_limit(seeded: Seeded):
    with seeded.client(None, rate_limit="10/minute") as anonymous:
        statuses = [anonymous.get("/v1/regions", headers={"Authorization": f"Bearer ff_guess{i}"}).status_code
                    for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_body_and_batch_caps_are_clear_and_store_nothing(seeded: Seeded):
    before = seeded.counts()
    with seeded.client("write", max_body_bytes=50_000, max_batch_rows=100) as writer:
        rows = [{**ROW, "period": f"{1900 + i // 12}-{i % 12 + 1:02d}"} for i in range(101)]
        too_many = writer.post("/v1/observations", json={"observations": rows})
        assert too_many.status_code == 422 and too_many.json()["error"] == "BatchTooLarge", too_many.text
        assert "100" in too_many.json()["detail"]
        csv = "region,indicator,period,value\n" + "".join(
            f"R01,attacks,{1900 + i // 12}-{i % 12 + 1:02d},1\n" for i in range(101))
        too_many_csv = writer.post("/v1/observations/csv", content=csv, headers={"Content-Type": "text/csv"})
        assert too_many_csv.status_code == 422 and "100" in too_many_csv.json()["detail"], too_many_csv.text
        big = writer.post("/v1/observations/csv", content=b"x" * 50_001, headers={"Content-Type": "text/csv"})
        assert big.status_code == 413 and "50000" in big.json()["detail"]
        big_regions = writer.post("/v1/regions", content=b'{"regions": [' + b" " * 60_000 + b"]}",
                                  headers={"Content-Type": "application/json"})
        assert big_regions.status_code == 413
    assert seeded.counts() == before


def test_keys_are_stored_hashed_and_never_logged(seeded: Seeded, caplog):
    caplog.set_level(logging.DEBUG)
    with seeded.client("read") as reader:
        assert reader.get("/v1/regions").status_code == 200
        assert reader.post("/v1/regions", json={"regions": []}).status_code == 403
        assert reader.get("/v1/regions", headers={"Authorization": "Bearer ff_wrong-secret-123"}).status_code == 401
    logged = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    for scope, secret in seeded.keys.items():
        assert secret not in logged, f"the {scope} key appears in the log"
    assert "ff_wrong-secret-123" not in logged
    with seeded.database.session() as session:
        rows = [tuple(map(str, row)) for row in session.execute(text("SELECT * FROM api_keys"))]
    assert len(rows) >= 3
    for secret in seeded.keys.values():
        assert not any(secret in cell or secret[3:] in cell for row in rows for cell in row)
    assert not secrets_in_database_files(seeded, list(seeded.keys.values()))


def test_a_presented_key_is_checked_against_its_stored_hash_in_constant_time(seeded: Seeded, monkeypatch):
    import hmac

    import service.auth

    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(service.auth.hmac, "compare_digest", spy)
    with seeded.client("read") as reader:
        assert reader.get("/v1/regions").status_code == 200
    stored = service.auth.hash_key(seeded.keys["read"]).encode()
    assert compared == [(stored, stored)], "the key was not compared with hmac.compare_digest"


def secrets_in_database_files(seeded: Seeded, secrets: list[str]) -> list[str]:
    """Return the secrets found in the raw bytes of the SQLite file and its WAL.

    The files are read by another process: opening and closing a SQLite file in this process would drop
    the POSIX locks its open connections hold (and let them read stale pages).
    """
    database_file = Path(seeded.url.removeprefix("sqlite:///"))
    program = ("import sys, pathlib; d = pathlib.Path(sys.argv[1]); "
               "raw = b''.join(p.read_bytes() for p in d.parent.iterdir() if p.name.startswith(d.name)); "
               "print('\\n'.join(s for s in sys.argv[2:] if s.encode() in raw))")
    found = subprocess.run([sys.executable, "-c", program, str(database_file),
                            *secrets, *(s[3:] for s in secrets)], capture_output=True, text=True, check=True)
    return [line for line in found.stdout.splitlines() if line]


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/v1/observations", {"observations": [ROW]}),
    ("POST", "/v1/observations/csv", None),
    ("POST", "/v1/regions", {"regions": [{"id": "NEW", "name": "New", "neighbours": []}]}),
    ("POST", "/v1/indicators", {"indicators": [{"id": "new", "kind": "count"}]}),
    ("POST", "/v1/models", {"name": "by-reader", "indicator": "attacks"}),
    ("POST", "/v1/models/m-read/fit", None),
    ("PATCH", "/v1/models/m-read", {"horizon": 3}),
    ("POST", "/v1/models/m-read/backtests", {"origins": 2, "horizon": 1}),
    ("POST", "/v1/jobs/1/cancel", None),
])
def test_read_keys_cannot_write_or_fit(seeded: Seeded, method, path, body):
    with seeded.client("write") as writer:
        if not any(m["name"] == "m-read" for m in writer.get("/v1/models").json()["data"]):
            assert writer.post("/v1/models", json={"name": "m-read", "indicator": "attacks"}).status_code == 201
    before = seeded.counts()
    with seeded.database.session() as session:
        jobs_before = session.execute(text("SELECT count(*) FROM jobs")).scalar()
        models_before = session.execute(text("SELECT count(*) FROM models")).scalar()
    with seeded.client("read") as reader:
        kwargs = {"json": body} if body is not None else {}
        if path.endswith("/csv"):
            kwargs = {"content": "region,indicator,period,value\nR01,attacks,2001-02,1\n",
                      "headers": {"Content-Type": "text/csv"}}
        answer = reader.request(method, path, **kwargs)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "AccessDenied" and "'write'" in answer.json()["detail"]
    assert seeded.counts() == before
    with seeded.database.session() as session:
        assert session.execute(text("SELECT count(*) FROM jobs")).scalar() == jobs_before
        assert session.execute(text("SELECT count(*) FROM models")).scalar() == models_before


def test_a_revoked_key_gets_401(seeded: Seeded):
    env = {**os.environ, "FRAGILITY_DATABASE_URL": seeded.url, "FRAGILITY_ARTIFACTS": str(seeded.artifacts)}
    created = cli(["keys", "create", "--scope", "write", "--label", "to revoke"], env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split()[-1]
    with seeded.client(None) as client:
        auth = {"Authorization": f"Bearer {secret}"}
        assert client.post("/v1/observations", json={"observations": [ROW]}, headers=auth).status_code == 200
        revoked = cli(["keys", "revoke", secret], env)
        assert revoked.returncode == 0, revoked.stderr
        assert secret not in revoked.stdout + revoked.stderr
        refused = client.post("/v1/observations", json={"observations": [{**ROW, "value": 2}]}, headers=auth)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert client.get("/v1/regions", headers=auth).status_code == 401
    with seeded.database.session() as session:
        value = session.execute(text("SELECT value FROM observations WHERE period = '2001-01' "
                                     "AND region_id = 'R01' AND indicator_id = 'attacks'")).scalar()
    assert value == 1


def test_an_exhausted_connection_pool_is_a_clean_503_with_retry_after(seeded: Seeded):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    client = seeded.client("read")
    database = client.app.state.db
    database.engine = create_engine(seeded.url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    database.sessions = sessionmaker(database.engine, expire_on_commit=False)
    with client, database.engine.connect():  # the only connection is busy
        answer = client.get("/v1/regions")
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "DatabaseUnavailable" and "overloaded" in answer.json()["detail"]
        assert int(answer.headers["Retry-After"]) >= 1
    with client:
        assert client.get("/v1/regions").status_code == 200  # the connection is free again
    database.engine.dispose()

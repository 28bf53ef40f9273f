"""API keys and scopes over HTTP against a real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import cli

pytestmark = pytest.mark.e2e

REGION = {"regions": [{"id": "AAA", "name": "Alpha", "neighbours": []}]}


@pytest.fixture(scope="module")
def server(live_server, database_url):
    """Return a server that requires keys for reads."""
    return live_server(database_url)


def test_missing_or_invalid_key_is_401_and_never_logged(server):
    with server.client() as anonymous:
        answer = anonymous.get("/v1/regions")
        assert answer.status_code == 401
        assert answer.json()["error"] == "Unauthenticated" and "Bearer" in answer.json()["hint"]
        assert anonymous.post("/v1/regions", json=REGION).status_code == 401
    with server.client("ff_not-a-real-key") as wrong:
        assert wrong.get("/v1/regions").status_code == 401
    with server.client(server.read_key) as reader:
        assert reader.get("/v1/regions", headers={"Authorization": "Basic abc"}).status_code == 401
    log = server.log()
    assert "ff_not-a-real-key" not in log and server.read_key not in log
    assert "refused: unknown or revoked API key" in log


def test_scopes_read_write_admin(server):
    with server.client(server.read_key) as reader:
        assert reader.get("/v1/regions").status_code == 200
        denied = reader.post("/v1/regions", json=REGION)
        assert denied.status_code == 403 and denied.json()["error"] == "AccessDenied"
    with server.client(server.write_key) as writer:
        assert writer.post("/v1/regions", json=REGION).status_code == 200
        assert writer.get("/v1/regions").json()["count"] == 1  # write implies read
    with server.client(server.admin_key) as admin:
        assert admin.post("/v1/regions", json=REGION).json()["unchanged"] == 1  # admin implies write


def test_revoked_key_is_refused(server):
    created = cli(["keys", "create", "--scope", "read", "--label", "to revoke"], server.env)
    key = created.stdout.split()[-1]
    with server.client(key) as client:
        assert client.get("/v1/regions").status_code == 200
        revoked = cli(["keys", "revoke", key[3:11]], server.env)
        assert revoked.returncode == 0, revoked.stderr
        assert client.get("/v1/regions").status_code == 401
    listed = cli(["keys", "list", "--json"], server.env).stdout
    assert key not in listed and '"revoked_at": null' in listed


def test_public_read_allows_anonymous_reads_only(live_server, sqlite_url):
    public = live_server(sqlite_url, env={"FRAGILITY_PUBLIC_READ": "1"})
    with public.client() as anonymous:
        assert anonymous.get("/v1/regions").status_code == 200
        assert anonymous.get("/v1/indicators").status_code == 200
        assert anonymous.post("/v1/regions", json=REGION).status_code == 401
    with public.client(public.read_key) as reader:
        assert reader.post("/v1/regions", json=REGION).status_code == 403

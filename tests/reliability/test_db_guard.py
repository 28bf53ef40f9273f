"""The guard against a silent PostgreSQL (service/db/guard.py), on a real engine: a server that stops
answering (a TCP proxy that keeps connections open but forwards nothing) becomes an OperationalError
within seconds, the stalled connection is discarded, and the same engine works once the server answers
again; a server that is only slow (a 3 s query) is left alone."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service.db.engine import Database
from service.errors import DatabaseUnresponsive
from service.settings import DatabaseLimits
from tests.conftest import free_port
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = pytest.mark.pg
QUICK = DatabaseLimits(unresponsive_after_seconds=1.0, connect_timeout_seconds=2, probe_timeout_seconds=2)


def test_a_slow_query_on_a_live_server_is_not_cut(pg_url):
    database = Database(pg_url, QUICK)
    try:
        started = time.monotonic()
        with database.session() as session:
            assert session.execute(text("SELECT pg_sleep(3), 7")).one()[1] == 7
        assert time.monotonic() - started >= 3
    finally:
        database.dispose()


@pytest.mark.timeout(60)  # without the guard the query would wait forever
def test_a_frozen_server_is_an_error_within_seconds_and_the_engine_recovers(pg_url):
    proxy = TcpProxy(("127.0.0.1", 5432), free_port())
    proxy.start()
    database = Database(pg_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"), QUICK)
    try:
        with database.session() as session:  # a transaction in progress when the server goes silent
            stalled_backend = session.execute(text("SELECT pg_backend_pid()")).scalar()
            proxy.freeze()
            started = time.monotonic()
            with pytest.raises(OperationalError) as raised:
                session.execute(text("SELECT 2"))
        seconds = time.monotonic() - started
        assert isinstance(raised.value.orig, DatabaseUnresponsive) and raised.value.connection_invalidated
        assert seconds < 6, seconds
        proxy.freeze(False)
        with database.session() as session:
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar()
        assert backend != stalled_backend, "the stalled connection went back to the pool and was reused"
    finally:
        database.dispose()
        proxy.close()

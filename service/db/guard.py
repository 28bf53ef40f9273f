"""A guard against a PostgreSQL server that stops answering without closing the connection.

libpq waits for an answer forever: a silent partition, a frozen server or proxy leaves a request hanging
(TCP keepalives do not help when something still acknowledges the packets). Every round trip of a
`GuardedConnection` is watched by one daemon thread per process. A round trip that has waited
`unresponsive_after` seconds while the server answered no other connection meanwhile gets the server
probed with a fresh connection (at most once per `unresponsive_after` seconds of silence); if the probe
gets no answer either, every stalled round trip to that
server is cut (its socket shut down), so the waiting request gets a psycopg OperationalError, which
SQLAlchemy treats as a disconnect (the connection is discarded, never returned to the pool) and the
API answers 503. A round trip longer than the hard limit is cut without a probe.

Under load, slow answers are not mistaken for a partition: as long as any connection to the server
gets answers, nothing is probed or cut.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field

import psycopg

from service.errors import DatabaseUnresponsive

log = logging.getLogger("fragility.db")
SCAN_SECONDS = 0.25


@dataclass(frozen=True)
class GuardPolicy:
    """When to suspect and when to cut a round trip to one server (`conninfo` is used to probe it)."""

    conninfo: str
    unresponsive_after: float
    hard_limit: float
    probe_timeout: int


@dataclass(eq=False)
class _Watch:
    connection: psycopg.Connection
    policy: GuardPolicy
    started: float
    cut_reason: str | None = None


@dataclass
class _ServerState:
    last_answer: float = field(default_factory=time.monotonic)


class Watchdog:
    """Tracks round trips in flight and cuts the stalled ones of a server that no longer answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: set[_Watch] = set()
        self._servers: dict[str, _ServerState] = {}
        self._thread: threading.Thread | None = None

    def watch(self, connection: psycopg.Connection, policy: GuardPolicy) -> _Watch:
        """Return the record of a round trip starting now on `connection` (pass it to `done`)."""
        watch = _Watch(connection, policy, time.monotonic())
        with self._lock:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fragility-db-guard", daemon=True)
                self._thread.start()
        return watch

    def done(self, watch: _Watch, answered: bool) -> None:
        """Forget a round trip that ended; an answered one proves its server alive. Returns nothing."""
        with self._lock:
            self._watches.discard(watch)
            if answered:
                self._servers.setdefault(watch.policy.conninfo, _ServerState()).last_answer = time.monotonic()

    def _run(self) -> None:
        while True:
            time.sleep(SCAN_SECONDS)
            try:
                self._scan()
            except Exception:  # the guard must outlive any one bad scan
                log.exception("database guard scan failed")

    def _scan(self) -> None:
        now = time.monotonic()
        with self._lock:
            watches = list(self._watches)
            last_answer = {conninfo: state.last_answer for conninfo, state in self._servers.items()}
        suspects: dict[str, list[_Watch]] = {}
        for watch in watches:
            waited = now - watch.started
            if waited >= watch.policy.hard_limit:
                self._cut(watch, f"no answer from the database within {watch.policy.hard_limit:.0f} s")
            elif (waited >= watch.policy.unresponsive_after
                  and now - last_answer.get(watch.policy.conninfo, 0.0) >= watch.policy.unresponsive_after):
                suspects.setdefault(watch.policy.conninfo, []).append(watch)
        for conninfo, stalled in suspects.items():
            policy = stalled[0].policy
            if probe(conninfo, policy.probe_timeout):  # slow but alive: probe again after another silence
                with self._lock:
                    self._servers.setdefault(conninfo, _ServerState()).last_answer = time.monotonic()
            else:
                reason = (f"the database answered nothing for {policy.unresponsive_after:g} s and a fresh "
                          f"connection got no answer within {policy.probe_timeout} s")
                log.warning("database unresponsive: dropping stalled connections",
                            extra={"connections": len(stalled)})
                for watch in stalled:
                    self._cut(watch, reason)

    def _cut(self, watch: _Watch, reason: str) -> None:
        """Shut the socket of a round trip still in flight down, waking its waiting thread with EOF."""
        with self._lock:
            if watch not in self._watches or watch.cut_reason is not None:
                return
            watch.cut_reason = reason
            try:
                fd = watch.connection.pgconn.socket
                with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
                    duplicate.shutdown(socket.SHUT_RDWR)
            except (OSError, psycopg.Error):
                pass  # already closed: the round trip is ending by itself


WATCHDOG = Watchdog()


class _ProbeConnection(psycopg.Connection):
    """A connection whose every round trip gives up after `probe_timeout` seconds."""

    probe_timeout: float = 2.0

    def wait(self, gen, interval=0.1, timeout=None):
        return super().wait(gen, interval, self.probe_timeout if timeout is None else timeout)


def probe(conninfo: str, timeout: int) -> bool:
    """Return True if a fresh connection to `conninfo` answers `SELECT 1` within about 2 x `timeout` s."""
    try:
        with _ProbeConnection.connect(conninfo, connect_timeout=timeout, autocommit=True) as connection:
            connection.probe_timeout = timeout
            connection.execute("SELECT 1")
        return True
    except (psycopg.Error, OSError):
        return False


class GuardedConnection(psycopg.Connection):
    """A psycopg connection whose round trips are watched by WATCHDOG (see the module docstring)."""

    guard_policy: GuardPolicy | None = None

    def wait(self, gen, interval=0.1, timeout=None):
        policy = self.guard_policy
        if policy is None or timeout is not None:
            return super().wait(gen, interval, timeout)
        watch = WATCHDOG.watch(self, policy)
        answered = False
        try:
            result = super().wait(gen, interval, timeout)
            answered = True
            return result
        except psycopg.OperationalError as exc:
            if watch.cut_reason is not None:
                raise DatabaseUnresponsive(watch.cut_reason + "; the connection was dropped") from exc
            raise
        finally:
            WATCHDOG.done(watch, answered)

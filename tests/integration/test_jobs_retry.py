"""Retry decisions are pure: back off exponentially, never retry caller errors, stop at the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from indicators.errors import InputError
from models.core.errors import SamplingFailed
from service.jobs.retry import RetryStrategy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_transient_errors_back_off_then_give_up():
    strategy = RetryStrategy(max_attempts=3, wait_seconds=5, backoff=2)
    first = strategy.decide(attempts=1, error=SamplingFailed("nutpie crashed"), now=NOW)
    second = strategy.decide(attempts=2, error=OSError("disk"), now=NOW)
    third = strategy.decide(attempts=3, error=OSError("disk"), now=NOW)
    assert (first.retry, first.run_after) == (True, NOW + timedelta(seconds=5))
    assert (second.retry, second.run_after) == (True, NOW + timedelta(seconds=10))
    assert not third.retry and "3 attempt" in third.reason


def test_caller_errors_are_never_retried():
    decision = RetryStrategy(max_attempts=5).decide(attempts=1, error=InputError("no data"), now=NOW)
    assert not decision.retry and "fix the input" in decision.reason

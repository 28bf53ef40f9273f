"""Retry decisions as pure data: given a failed attempt, run again later or fail for good. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from indicators.errors import InputError


@dataclass(frozen=True)
class RetryDecision:
    """What to do with a failed attempt: `retry` at `run_after`, or give up; `reason` says why."""

    retry: bool
    run_after: datetime | None
    reason: str


@dataclass(frozen=True)
class RetryStrategy:
    """Exponential back-off up to `max_attempts`; errors the caller must fix are never retried."""

    max_attempts: int = 3
    wait_seconds: float = 5.0
    backoff: float = 2.0
    never_retry: tuple[type[BaseException], ...] = (InputError,)

    def decide(self, *, attempts: int, error: BaseException, now: datetime) -> RetryDecision:
        """Return the decision for a job that failed on its `attempts`-th attempt with `error`."""
        if isinstance(error, self.never_retry):
            return RetryDecision(False, None, f"{type(error).__name__} is not retried: fix the input")
        if attempts >= self.max_attempts:
            return RetryDecision(False, None, f"gave up after {attempts} attempt(s)")
        wait = self.wait_seconds * self.backoff ** (attempts - 1)
        return RetryDecision(True, now + timedelta(seconds=wait), f"retry {attempts + 1} in {wait:g} s")

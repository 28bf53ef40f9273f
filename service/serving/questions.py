"""Expensive serving questions (an exceedance probability's event grid, a spillover threshold, a scenario) run in
a small fixed pool of threads of their own, never on the event loop or the request threadpool, with admission
control in front:

- at most `question_workers` questions compute at once, and at most `max_waiting_questions` more wait for a
  worker; one more is refused with 429 and Retry-After (`QuestionsBusy`) instead of queueing without bound;
- one caller (an API key, or an anonymous reader's address) has at most `max_questions_per_key` questions
  waiting or computing; one more is refused with 429 and Retry-After;
- a question whose client went away is abandoned: taken off the queue if it has not started, stopped at its
  next checkpoint (between the simulations it is made of) if it has. What one simulation computed is kept
  in the cache for the next asker.

Cheap endpoints (`/healthz`, `GET /v1/models`, cached answers) therefore never wait behind them: the
request threadpool and the event loop stay free. A question counts against its caller until its worker
really stops (not when the client leaves), so leaving and asking again does not multiply the work.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fastapi import Request

from service.errors import QuestionsBusy

log = logging.getLogger("fragility.questions")
POLL_SECONDS = 0.25
"""How often a waiting request checks that its client is still connected."""


class QuestionAbandoned(Exception):  # a signal, not an error of the caller
    """The client that asked the question went away; the computation stops at its next checkpoint."""


class Abandon:
    """A flag set when the asker left; `check()` raises QuestionAbandoned once it is set."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def set(self) -> None:
        """Mark the question abandoned; returns nothing."""
        self.event.set()

    def check(self) -> None:
        """Return nothing while the asker waits; raises QuestionAbandoned once it left."""
        if self.event.is_set():
            raise QuestionAbandoned


class QuestionPool:
    """A bounded pool of threads for expensive questions, with a global queue cap and a per-caller cap."""

    def __init__(self, workers: int, max_waiting: int, per_caller: int) -> None:
        self.workers = workers
        self.max_waiting = max_waiting
        self.per_caller = per_caller
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fragility-question")
        self.lock = threading.Lock()
        self.admitted = 0
        self.by_caller: Counter[str] = Counter()
        self.seconds_per_question = 1.0  # a running estimate, for Retry-After
        self.abandoned = 0
        self.active: set[Abandon] = set()

    def admit(self, caller: str) -> None:
        """Return nothing when `caller` may ask one more question now (counted); raises QuestionsBusy."""
        with self.lock:
            if self.by_caller[caller] >= self.per_caller:
                raise QuestionsBusy(
                    f"this caller already has {self.by_caller[caller]} questions computing or waiting; at most "
                    f"{self.per_caller} at once (FRAGILITY_MAX_QUESTIONS_PER_KEY)",
                    retry_after=self.seconds_per_question)
            if self.admitted >= self.workers + self.max_waiting:
                raise QuestionsBusy(
                    f"the server already has {self.admitted} questions computing or waiting; at most "
                    f"{self.workers + self.max_waiting} at once (FRAGILITY_QUESTION_WORKERS + "
                    "FRAGILITY_MAX_WAITING_QUESTIONS)",
                    retry_after=self.seconds_per_question * math.ceil(self.admitted / self.workers))
            self.admitted += 1
            self.by_caller[caller] += 1

    def release(self, caller: str, seconds: float | None) -> None:
        """Uncount one question of `caller` (it ended, `seconds` long if it ran); returns nothing."""
        with self.lock:
            self.admitted -= 1
            self.by_caller[caller] -= 1
            if self.by_caller[caller] <= 0:
                del self.by_caller[caller]
            if seconds is not None:
                self.seconds_per_question = 0.8 * self.seconds_per_question + 0.2 * seconds

    async def ask(self, request: Request, caller: str, compute: Callable[[Abandon], Any]) -> Any:
        """Return `compute(abandon)` run in the pool for `caller`; raises QuestionsBusy (429) when the caller or
        the server is at its cap, QuestionAbandoned when the client disconnected first, or compute's error."""
        self.admit(caller)
        abandon = Abandon()
        started: list[float] = []

        def run() -> Any:
            started.append(time.monotonic())
            abandon.check()
            return compute(abandon)

        try:
            future: Future = self.executor.submit(run)
        except BaseException:
            self.release(caller, None)
            raise
        with self.lock:
            self.active.add(abandon)

        def ended(_: Future) -> None:
            with self.lock:
                self.active.discard(abandon)
            self.release(caller, time.monotonic() - started[0] if started and not abandon.event.is_set() else None)

        future.add_done_callback(ended)
        waiting = asyncio.wrap_future(future)
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=POLL_SECONDS)
                if done:
                    return waiting.result()
                if await request.is_disconnected():
                    self.give_up(future, waiting, abandon)
                    raise QuestionAbandoned
        except asyncio.CancelledError:
            self.give_up(future, waiting, abandon)
            raise

    def give_up(self, future: Future, waiting: asyncio.Future, abandon: Abandon) -> None:
        """Abandon a question: off the queue if not started, else stopped at its next checkpoint (its outcome,
        QuestionAbandoned or an answer now cached, is read by nobody)."""
        abandon.set()
        started = not future.cancel()
        log.info("question abandoned: the client went away", extra={"started": started})
        waiting.add_done_callback(lambda done: done.cancelled() or done.exception())
        with self.lock:
            self.abandoned += 1

    def stats(self) -> dict[str, int]:
        """Return the questions admitted (computing or waiting) and abandoned so far."""
        with self.lock:
            return {"admitted": self.admitted, "abandoned": self.abandoned, "callers": len(self.by_caller)}

    def close(self) -> None:
        """Stop taking questions: queued ones are cancelled, running ones stop at their next checkpoint; returns
        nothing."""
        with self.lock:
            for abandon in self.active:
                abandon.set()
        self.executor.shutdown(wait=False, cancel_futures=True)

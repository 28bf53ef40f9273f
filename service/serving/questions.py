"""Expensive serving questions (an exceedance probability's event grid, a spillover threshold, a scenario) run in
a small fixed pool of their own, never on the event loop or the request threadpool, with admission control in front:

- by default the pool is of processes (`question_workers` of them, niced, each with its own path cache; the
  function run is service.serving.question_process.answer): a simulation holds its interpreter's lock for
  seconds at a time, and in a thread of the API process the event loop waited for that lock on every
  request it answered (issue 28: `/healthz` p99 62 -> 420 ms beside an abusive client); threads of the API
  process with FRAGILITY_QUESTION_PROCESSES=0;
- at most `question_workers` questions compute at once, and at most `max_waiting_questions` more wait for a
  worker; one more is refused with 429 and Retry-After (`QuestionsBusy`) instead of queueing without bound;
- one caller (an API key, or an anonymous reader's address) has at most `max_questions_per_key` questions
  waiting or computing; one more is refused with 429 and Retry-After;
- a question whose client went away is abandoned: taken off the queue if it has not started, stopped at its
  next checkpoint (between the simulations it is made of: its slot's byte in shared memory is set) if it
  has. What one simulation computed is kept in the cache of the process that computed it for the next asker,
  and an abandoned question's answer, if it was finished anyway, in the API's cache.

Cheap endpoints (`/healthz`, `GET /v1/models`, cached answers) therefore never wait behind them: the
request threadpool and the event loop stay free. A question counts against its caller until its worker
really stops (not when the client leaves), so leaving and asking again does not multiply the work.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fastapi import Request

from service.errors import QuestionsBusy
from service.serving.question_process import QuestionAbandoned, warm_up

log = logging.getLogger("fragility.questions")
POLL_SECONDS = 0.25
"""How often a waiting request checks that its client is still connected."""


class Abandon:
    """The abandon flag of one question slot (a byte of shared memory the computation checks); `set()` marks it."""

    def __init__(self, flags, slot: int) -> None:
        self.flags, self.slot = flags, slot
        flags[slot] = 0

    def set(self) -> None:
        """Mark the question abandoned; returns nothing."""
        self.flags[self.slot] = 1

    def is_set(self) -> bool:
        """Return True once the question was abandoned."""
        return bool(self.flags[self.slot])


class QuestionPool:
    """A bounded pool (of processes or threads) for expensive questions, with a global queue cap and a per-caller
    cap. `start(flags)` returns (executor of `workers` processes or threads, the function run in it for each
    question), the function reading `flags`, one byte per question slot (set: abandoned); it is called again
    when a process pool broke (a process killed)."""

    def __init__(self, workers: int, max_waiting: int, per_caller: int,
                 start: Callable[[Any], tuple[Executor, Callable[..., Any]]]) -> None:
        self.workers = workers
        self.max_waiting = max_waiting
        self.per_caller = per_caller
        self.flags = multiprocessing.get_context("spawn").RawArray("b", workers + max_waiting)
        self.free_slots = list(range(workers + max_waiting))
        self.start = start
        self.executor, self.run = start(self.flags)
        self.lock = threading.Lock()
        self.admitted = 0
        self.by_caller: Counter[str] = Counter()
        self.seconds_per_question = 1.0  # a running estimate, for Retry-After
        self.abandoned = 0
        self.active: set[Abandon] = set()

    def admit(self, caller: str) -> int:
        """Return the question slot `caller` may ask one more question in now (counted); raises QuestionsBusy."""
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
            return self.free_slots.pop()

    def release(self, caller: str, slot: int, seconds: float | None) -> None:
        """Uncount one question of `caller` in `slot` (it ended, `seconds` long if it ran); returns nothing."""
        with self.lock:
            self.free_slots.append(slot)
            self.admitted -= 1
            self.by_caller[caller] -= 1
            if self.by_caller[caller] <= 0:
                del self.by_caller[caller]
            if seconds is not None:
                self.seconds_per_question = 0.8 * self.seconds_per_question + 0.2 * seconds

    def warm(self) -> None:
        """Start every worker now (a process imports what questions need) instead of at the first questions;
        returns nothing."""
        for _ in range(self.workers):
            self.executor.submit(warm_up)

    def submit(self, *args: Any) -> Future:
        """Return the future of the pool's function on `args`; a process pool broken by a killed process is
        replaced first."""
        try:
            return self.executor.submit(self.run, *args)
        except BrokenProcessPool:
            log.warning("question pool broken (a process ended): starting a new one")
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor, self.run = self.start(self.flags)
            return self.executor.submit(self.run, *args)

    async def ask(self, request: Request, caller: str, *args: Any, keep: Callable[[Any], None] = lambda _: None) -> Any:
        """Return the pool's function (service.serving.question_process.answer) on (slot, *args), run in the pool
        for `caller` (it checks the slot's abandon flag); raises QuestionsBusy (429) when the caller or the server
        is at its cap, QuestionAbandoned when the client disconnected first, or the function's error.
        `keep(value)` is called with the value of every question that ended with one, abandoned or not."""
        slot = self.admit(caller)
        abandon = Abandon(self.flags, slot)
        submitted = time.monotonic()
        try:
            future: Future = self.submit(slot, *args)
        except BaseException:
            self.release(caller, slot, None)
            raise
        with self.lock:
            self.active.add(abandon)

        def ended(done: Future) -> None:
            with self.lock:
                self.active.discard(abandon)
            ran = not done.cancelled() and not abandon.is_set()
            self.release(caller, slot, time.monotonic() - submitted if ran else None)
            if not done.cancelled() and done.exception() is None:
                keep(done.result())

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
        self.executor.shutdown(wait=False, cancel_futures=True)  # processes end with their current question

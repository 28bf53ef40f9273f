"""The rate limiter's in-memory storage (service/limits.py InlineExpiryStorage): the moving window still
refuses past its rate, old entries are dropped inline, and hits start no threads (limits' own MemoryStorage
starts a timer thread on nearly every hit, which the event loop waited for)."""

from __future__ import annotations

import threading
import time

import pytest

from service.errors import RateLimited
from service.limits import InlineExpiryStorage, RateLimiter


def test_the_window_refuses_past_its_rate_and_frees_each_identity_separately():
    limiter = RateLimiter("3/second")
    for _ in range(3):
        limiter.check("ip:a")
    with pytest.raises(RateLimited, match="rate limit 3/second exceeded"):
        limiter.check("ip:a")
    limiter.check("ip:b")  # another identity has its own window


def test_hits_start_no_threads_and_expired_entries_are_dropped():
    limiter = RateLimiter("1000/second")
    storage = limiter.limiter.storage
    assert isinstance(storage, InlineExpiryStorage)
    time.sleep(0.05)  # the base class's one timer from construction has fired
    before = {thread.ident for thread in threading.enumerate()}
    for i in range(500):
        limiter.check(f"ip:{i % 5}")
    assert {thread.ident for thread in threading.enumerate()} <= before
    assert sum(len(entries) for entries in storage.events.values()) == 500
    time.sleep(1.1)  # past the window and the expiry interval
    limiter.check("ip:new")
    assert sum(len(entries) for entries in storage.events.values()) == 1  # the 500 old ones are gone

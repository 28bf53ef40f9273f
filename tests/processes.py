"""Stopping the subprocesses tests start (servers, workers, the S3 server): one way, everywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest


def stop_process(process: subprocess.Popen, *, group: bool = False, grace: float = 20) -> None:
    """Stop `process` (its whole process group when `group`: started with start_new_session=True): SIGTERM,
    then SIGKILL if it has not exited after `grace` seconds; returns nothing."""
    if process.poll() is not None:
        return
    if group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2):
    """Return the first truthy value of `predicate()` within `timeout` seconds (checked every `poll` s), else fail
    naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")

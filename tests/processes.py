"""Stopping the subprocesses tests start (servers, workers, the S3 server): one way, everywhere."""

from __future__ import annotations

import os
import signal
import subprocess


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

"""Where job tasks run: a local process pool by default, a Dask distributed cluster when configured.

An executor has one method, `submit(fn, *args) -> future`, whose future has `.result(timeout=None)`.
Tasks are plain module-level functions taking plain values (frames, dicts, paths), never sessions.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from indicators.errors import InputError
from service.notices import plain_compile_notices
from service.settings import Settings


class TaskFuture(Protocol):
    """The part of a future the service uses."""

    def result(self, timeout: float | None = None) -> Any:
        """Return the task's value, raising its error if it failed."""


class Executor(Protocol):
    """Something that runs a function with arguments somewhere and hands back a future."""

    def submit(self, fn, *args) -> TaskFuture:
        """Return a future for `fn(*args)`."""

    def close(self) -> None:
        """Release the executor's processes or connections."""


class LocalExecutor:
    """A pool of spawned processes on this machine (spawn: no forked PyTensor or DB state)."""

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self.pool = self.new_pool()

    def new_pool(self) -> ProcessPoolExecutor:
        """Return a fresh pool of spawned processes."""
        return ProcessPoolExecutor(max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=plain_compile_notices)

    def submit(self, fn, *args) -> TaskFuture:
        """Return a concurrent.futures.Future for `fn(*args)` run in a pool process.

        A pool broken by a crashed process (killed, out of memory) is replaced before submitting.
        """
        try:
            return self.pool.submit(fn, *args)
        except BrokenProcessPool:
            self.pool = self.new_pool()
            return self.pool.submit(fn, *args)

    def close(self) -> None:
        """Shut the pool down, ending running tasks (their jobs' leases expire and they are retried)."""
        processes = list((getattr(self.pool, "_processes", None) or {}).values())  # None once shut down
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()


class DaskExecutor:
    """A client of a Dask distributed scheduler; every submit is a new (impure) task."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        self.address = address
        self.client = Client(address, set_as_default=False)

    def submit(self, fn, *args) -> TaskFuture:
        """Return a distributed.Future for `fn(*args)` run on a cluster worker."""
        return self.client.submit(fn, *args, pure=False)

    def close(self) -> None:
        """Close the connection to the scheduler (the cluster keeps running)."""
        self.client.close()


class InProcessExecutor:
    """Threads of this process: for an in-memory artifact store (memory://), which other processes cannot see."""

    def __init__(self, threads: int = 1) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fragility-task")

    def submit(self, fn, *args) -> TaskFuture:
        """Return a concurrent.futures.Future for `fn(*args)` run in a thread of this process."""
        return self.pool.submit(fn, *args)

    def close(self) -> None:
        """Shut the threads down once their running tasks end (a thread cannot be killed)."""
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_executor(settings: Settings) -> LocalExecutor | DaskExecutor | InProcessExecutor:
    """Return a DaskExecutor when `settings.dask_scheduler` is set, an InProcessExecutor when the artifact store
    is memory:// (tasks must write where this process reads), else a LocalExecutor.

    Raises InputError for memory:// with a Dask scheduler: a Dask worker's writes would never reach this process.
    """
    from service.serving.artifacts import settings_store

    in_memory = settings_store(settings).in_process_only
    if settings.dask_scheduler:
        if in_memory:
            raise InputError("FRAGILITY_ARTIFACTS is memory://, which only this process sees, but "
                             "FRAGILITY_DASK_SCHEDULER sends tasks to other processes; use a file://, s3:// or "
                             "gs:// artifact store shared by the API, the job workers and the Dask workers")
        return DaskExecutor(settings.dask_scheduler)
    if in_memory:
        return InProcessExecutor(settings.worker_processes)
    return LocalExecutor(settings.worker_processes)

"""Where job tasks run: a local process pool by default, a Dask distributed cluster when configured.

An executor has `submit(fn, *args) -> future` (the future has `.result(timeout=None)`), `stop()` (end the
running tasks now: the worker calls it when its job was cancelled or its lease lost) and `close()`.
Tasks are plain module-level functions taking plain values (frames, dicts, paths), never sessions.

A local pool's processes die with the process that owns the pool (`die_with_parent`, their initializer), so
a worker killed with kill -9 leaves no pool process computing or idle behind it.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor as Executor_
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from indicators.errors import InputError
from models.core.registry import family_modules, import_families
from service.notices import plain_compile_notices
from service.settings import Settings

log = logging.getLogger("fragility.worker")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class TaskFuture(Protocol):
    """The part of a future the service uses."""

    def result(self, timeout: float | None = None) -> Any:
        """Return the task's value, raising its error if it failed."""


class Executor(Protocol):
    """Something that runs a function with arguments somewhere and hands back a future."""

    def submit(self, fn, *args) -> TaskFuture:
        """Return a future for `fn(*args)`."""

    def stop(self) -> bool:
        """End every task this executor runs or holds now; return True if running tasks were really stopped
        (their processes ended), False if they may still be computing somewhere (a thread, a Dask worker)."""

    def close(self) -> None:
        """Release the executor's processes or connections."""


def die_with_parent(parent_pid: int) -> None:
    """Make this (pool) process end when `parent_pid`, the process that started it, ends; returns nothing.

    On Linux the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG; strictly, when the parent's
    thread that started this process ends: the worker's own thread, which lives as long as the worker). On every
    platform a daemon thread also waits on the parent's sentinel and exits the process when it closes.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl in this libc: the sentinel thread alone
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        def watch() -> None:
            multiprocessing.connection.wait([parent.sentinel])
            os._exit(1)

        threading.Thread(target=watch, name="fragility-parent-watch", daemon=True).start()


def pool_process_started(parent_pid: int, families: tuple[str, ...] = ()) -> None:
    """The initializer of a local pool process: die with the parent, plain compile notices, import the modules
    `families` (those of the parent's registered families, so that a family registered outside any installed
    package, a test's toy family, is known here too); returns nothing."""
    die_with_parent(parent_pid)
    plain_compile_notices()
    import_families(families)


def descendants(pid: int) -> list[int]:
    """Return the ids of the processes below `pid` (children, their children, ...), read from /proc; [] where
    there is no /proc."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_processes(processes: list) -> None:
    """SIGKILL the multiprocessing `processes` and every process below them, then reap them; returns nothing."""
    targets = [pid for process in processes if process.is_alive() for pid in (*descendants(process.pid), process.pid)]
    for pid in targets:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for process in processes:
        process.join(timeout=5)


class LocalExecutor:
    """A pool of spawned processes on this machine (spawn: no forked PyTensor or DB state)."""

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self.pool = self.new_pool()

    def new_pool(self) -> ProcessPoolExecutor:
        """Return a fresh pool of spawned processes, each ending with this process (`die_with_parent`) and
        knowing the families registered here now."""
        return ProcessPoolExecutor(max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=pool_process_started,
                                   initargs=(os.getpid(), tuple(family_modules())))

    def pool_processes(self) -> list:
        """Return the pool's processes (multiprocessing.Process objects; none once it was shut down)."""
        return list((getattr(self.pool, "_processes", None) or {}).values())

    def submit(self, fn, *args) -> TaskFuture:
        """Return a concurrent.futures.Future for `fn(*args)` run in a pool process.

        A pool broken by a crashed process (killed, out of memory) is replaced before submitting.
        """
        if any(not process.is_alive() for process in self.pool_processes()):  # killed: broken, maybe not yet marked
            self.stop()
        try:
            return self.pool.submit(fn, *args)
        except BrokenProcessPool:
            self.pool = self.new_pool()
            return self.pool.submit(fn, *args)

    def stop(self) -> bool:
        """End the running tasks now: the pool's processes and theirs are killed (SIGKILL) and a fresh pool, whose
        processes start on the next submit, takes its place; returns True."""
        processes = self.pool_processes()
        self.pool.shutdown(wait=False, cancel_futures=True)
        kill_processes(processes)
        self.pool = self.new_pool()
        if processes:
            log.info("executor pool recycled: killed process(es) %s", ", ".join(str(p.pid) for p in processes))
        return True

    def close(self) -> None:
        """Shut the pool down, killing running tasks (their jobs' leases expire and they are retried)."""
        processes = self.pool_processes()
        self.pool.shutdown(wait=False, cancel_futures=True)
        kill_processes(processes)


class DaskExecutor:
    """A client of a Dask distributed scheduler; every submit is a new (impure) task."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        self.address = address
        self.client = Client(address, set_as_default=False)
        self.futures: list = []

    def submit(self, fn, *args) -> TaskFuture:
        """Return a distributed.Future for `fn(*args)` run on a cluster worker."""
        future = self.client.submit(fn, *args, pure=False)
        self.futures = [f for f in self.futures if not f.done()] + [future]
        return future

    def stop(self) -> bool:
        """Cancel this client's unfinished tasks (queued ones never start); return False: a task already running
        on a Dask worker's thread runs to its end there (Dask cannot stop it), its result dropped."""
        futures, self.futures = self.futures, []
        if futures:
            self.client.cancel(futures, force=True)
        return False

    def close(self) -> None:
        """Close the connection to the scheduler (the cluster keeps running)."""
        self.client.close()


class InProcessExecutor:
    """Threads of this process: for an in-memory artifact store (memory://), which other processes cannot see."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fragility-task")

    def submit(self, fn, *args) -> TaskFuture:
        """Return a concurrent.futures.Future for `fn(*args)` run in a thread of this process."""
        return self.pool.submit(fn, *args)

    def stop(self) -> bool:
        """Drop the tasks not yet started; return False: a running thread cannot be stopped, it runs to its end."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="fragility-task")
        return False

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


def question_process_started(parent_pid: int, flags, settings: Settings, niceness: int,
                             families: tuple[str, ...] = ()) -> None:
    """The initializer of a question process: lower priority first (its imports are seconds of CPU), die with the
    API process, plain compile notices, the parent's family modules `families`, then its own path cache
    (service.serving.question_process); returns nothing."""
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # not permitted here: the process keeps its priority
            pass
    pool_process_started(parent_pid, families)
    from service.serving.artifacts import settings_store
    from service.serving.path_cache import PathCache
    from service.serving.question_process import configure

    configure(flags, PathCache(settings_store(settings), settings.cache_bytes))


def question_executor(settings: Settings, cache) -> Callable[[Any], tuple[Executor_, Callable[..., Any]]]:
    """Return the `start(flags)` of the API's question pool (service.serving.questions.QuestionPool): it returns
    (a pool of `question_workers` spawned, niced processes dying with this one, question_process.answer) by
    default, or (threads of this process, answer on the app's path `cache`) when `question_processes` is off or
    the artifact store is memory:// (which only this process sees)."""
    from service.serving.artifacts import settings_store
    from service.serving.question_process import answer

    in_process = not settings.question_processes or settings_store(settings).in_process_only

    def start(flags) -> tuple[Executor_, Callable[..., Any]]:
        if in_process:
            return (ThreadPoolExecutor(max_workers=settings.question_workers, thread_name_prefix="fragility-question"),
                    functools.partial(answer, state={"flags": flags, "cache": cache}))
        return (ProcessPoolExecutor(max_workers=settings.question_workers,
                                    mp_context=multiprocessing.get_context("spawn"),
                                    initializer=question_process_started,
                                    initargs=(os.getpid(), flags, settings, settings.question_niceness,
                                              tuple(family_modules()))), answer)

    return start

"""Background work embedded in `fragility serve`: the scheduler and a worker in the API process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from service.db.engine import Database
from service.jobs.scheduler import Scheduler
from service.jobs.worker import run_worker
from service.settings import Settings

Stop = Callable[[], None]


def start_in_thread(name: str, run: Callable[[threading.Event], None], cleanup: Callable[[], None]) -> Stop:
    """Start `run(stop_event)` in a daemon thread; return the function that stops it and cleans up."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), name=name, daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=10)
        cleanup()

    return stopper


def start_scheduler(settings: Settings) -> Stop:
    """Start the scheduler loop on its own database engine; return its stop function."""
    database = Database(settings.database_url, settings.db)
    return start_in_thread("fragility-scheduler", Scheduler(database, settings).run, database.dispose)


def start_worker(settings: Settings) -> Stop:
    """Start `run_worker` (one worker, its executor and database engine) in a thread; return its stop function."""
    return start_in_thread("fragility-worker", lambda stop: run_worker(settings, stop), lambda: None)


def embedded_hooks(settings: Settings) -> list[Callable[[], Stop]]:
    """Return start hooks for the embedded scheduler and worker; each start returns its stop function."""
    return [lambda: start_scheduler(settings), lambda: start_worker(settings)]

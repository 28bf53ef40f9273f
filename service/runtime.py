"""Background work embedded in `fragility serve`: the scheduler and a worker in the API process."""

from collections.abc import Callable

from service.settings import Settings


def embedded_hooks(settings: Settings) -> list[Callable[[], Callable[[], None]]]:
    """Return start hooks for the embedded scheduler and worker; each start returns its stop function."""
    return []

"""`fragility serve`'s app and uvicorn settings plus one test-only route that raises an error no handler
expects: a genuine unhandled 500 through the real middleware stack, for the keep-alive test.

Run as `python -m tests.reliability.failing_server PORT` with the FRAGILITY_* environment of a server.
"""

from __future__ import annotations

import sys

from service.app import create_app
from service.cli.data import run_http
from service.settings import get_settings

UNEXPECTED_ERROR_PATH = "/test/unexpected-error"


def main(port: int) -> None:
    """Serve the app with the failing route on 127.0.0.1:`port` until stopped; returns nothing."""
    settings = get_settings()
    app = create_app(settings)

    @app.get(UNEXPECTED_ERROR_PATH)
    def unexpected_error() -> dict:
        raise RuntimeError("an error no handler expects (test route)")

    run_http(app, settings, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main(int(sys.argv[1]))

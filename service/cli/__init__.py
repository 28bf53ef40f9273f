"""The `fragility` command line, grouped by job: `data` (serve, keys, ingest), `models` (worker, fit,
forecast, probability, spillover, backtest), `registry` (models list|show|create, paths), `demo`; `common` holds
what they share (exit codes, settings, store), `client` the HTTP client, `formatting` how numbers are written.

Exit codes: 0 ok, 1 input error, 2 usage error, 3 server or database unreachable, 4 the port to serve on is in use.
"""

from __future__ import annotations

import typer

from service.cli import data, demo, models, registry
from service.notices import plain_compile_notices

plain_compile_notices()  # "note: compiling the model ..." rather than a Python warning with a source line

app = typer.Typer(name="fragility", help="Bayesian early-warning service for state-failure indicators.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data.register(app)
models.register(app)
registry.register(app)
demo.register(app)

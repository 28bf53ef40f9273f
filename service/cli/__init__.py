"""The `fragility` command line, grouped by job: `data` (serve, keys, ingest), `models` (worker, fit,
forecast, spillover, backtest), `demo`; `common` holds what they share (exit codes, settings, store).

Exit codes: 0 ok, 1 input error, 2 usage error, 3 server or database unreachable.
"""

from __future__ import annotations

import typer

from service.cli import data, demo, models

app = typer.Typer(name="fragility", help="Bayesian early-warning service for state-failure indicators.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data.register(app)
models.register(app)
demo.register(app)

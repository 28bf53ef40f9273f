"""CLI commands for models: worker, fit, forecast, spillover, backtest, demo."""

import typer


def register(app: typer.Typer) -> None:
    """Add the model commands to the `fragility` CLI; returns nothing."""

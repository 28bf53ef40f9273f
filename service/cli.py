"""The `fragility` command line: serve, keys, ingest (model commands are added by `service.cli_models`).

Exit codes: 0 ok, 1 input error, 2 usage error, 3 server or database unreachable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

import service.cli_models
from indicators import FragilityError, InputError, load_demo_regions, read_observations_csv, read_observations_json
from service import runtime
from service.crud.keys import create_key, list_keys, revoke_key
from service.crud.observations import ingest_rows
from service.crud.regions import list_regions, upsert_regions
from service.db import Database, run_migrations, safe_url
from service.errors import DatabaseUnavailable, error_body, hint_for, row_errors_of, status_for
from service.settings import Settings, get_settings

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
T = TypeVar("T")

app = typer.Typer(name="fragility", help="Bayesian early-warning service for state-failure indicators.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
keys_app = typer.Typer(help="Create, revoke and list API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


class Scope(StrEnum):
    """API key scopes: read < write < admin."""

    read = "read"
    write = "write"
    admin = "admin"


def fail(message: str, hint: str, code: int) -> typer.Exit:
    """Return an Exit with `code` after printing the message and what to do to stderr."""
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Return the settings from the environment; an invalid FRAGILITY_* value ends the command with exit 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"FRAGILITY_{'__'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid configuration: {problems}", "Fix the FRAGILITY_* environment variables "
                   "(or .env); see the README's Configuration section.", EXIT_USAGE) from exc


@contextmanager
def migrated_database(settings: Settings) -> Iterator[Database]:
    """Yield the migrated database of `settings`; an unreachable database ends the command with exit 3."""
    try:
        run_migrations(settings.database_url)
        db = Database(settings.database_url, settings.db)
        try:
            yield db
        finally:
            db.dispose()
    except (DatabaseUnavailable, OperationalError) as exc:
        raise fail(f"database at {safe_url(settings.database_url)} is unreachable ({exc})",
                   DatabaseUnavailable.hint, EXIT_UNREACHABLE) from exc


def with_session(settings: Settings, work: Callable[..., T]) -> T:
    """Return `work(session=...)` run on the migrated database; our errors end the command with exit 1 (3)."""
    try:
        with migrated_database(settings) as db, db.session() as session:
            return work(session=session)
    except FragilityError as exc:
        raise fail(exc.message, hint_for(exc), EXIT_UNREACHABLE if status_for(exc) == 503 else EXIT_INPUT) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default FRAGILITY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FRAGILITY_PORT).")] = None,
    demo: Annotated[bool, typer.Option(help="Load the 25 demo regions if no region is stored.")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the scheduler and worker "
                                            "inside the server process.")] = False,
) -> None:
    """Migrate the database, optionally load the demo regions, and serve the HTTP API."""
    import uvicorn

    from service.app import create_app

    settings = load_settings()

    def load_demo(*, session) -> int:
        if list_regions(session=session):
            return 0
        return upsert_regions(session=session, items=load_demo_regions())["inserted"]

    loaded = with_session(settings, load_demo) if demo else with_session(settings, lambda session: 0)
    if loaded:
        typer.echo(f"loaded {loaded} demo regions", err=True)
    hooks = [] if no_worker else runtime.embedded_hooks(settings)
    application = create_app(settings, start_hooks=hooks)
    uvicorn.run(application, host=host or settings.host, port=port or settings.port, log_config=None,
                timeout_graceful_shutdown=10)


@keys_app.command("create")
def keys_create(
    scope: Annotated[Scope, typer.Option(help="read < write < admin; each implies the ones before it.")],
    label: Annotated[str | None, typer.Option(help="A note saying whose key this is.")] = None,
) -> None:
    """Create an API key and print it once (the last word of the output is the key)."""
    info, secret = with_session(load_settings(), lambda session: create_key(session=session, scope=scope.value,
                                                                           label=label))
    typer.echo(f"created {info.scope} key id={info.id} prefix={info.prefix} (shown once, store it now): {secret}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's prefix, numeric id, or the key itself.")]) -> None:
    """Revoke an API key; requests with it are then refused with 401."""
    info = with_session(load_settings(), lambda session: revoke_key(session=session, prefix_or_id=key))
    typer.echo(f"revoked key id={info.id} prefix={info.prefix} scope={info.scope}")


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False) -> None:
    """List API keys (id, prefix, scope, label, created, revoked); never the secrets."""
    for info in with_session(load_settings(), lambda session: list_keys(session=session)):
        if as_json:
            typer.echo(json.dumps(info.to_dict()))
        else:
            state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
            typer.echo(f"{info.id}\t{info.prefix}\t{info.scope}\t{state}\t{info.label or ''}")


def read_observation_file(path: Path) -> list[dict]:
    """Return the raw rows of a CSV or JSON observations file (by suffix; else by first character).

    Raises InputError when the file cannot be read or parsed.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", hint="Check the path.") from exc
    is_json = path.suffix.lower() == ".json" or (path.suffix.lower() != ".csv" and data.lstrip()[:1] in (b"{", b"["))
    return read_observations_json(data) if is_json else read_observations_csv(data)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="Observations as CSV (region,indicator,period,value) or JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result (or the errors) as JSON.")] = False,
) -> None:
    """Validate and store an observations file atomically, like POST /v1/observations."""
    settings = load_settings()
    try:
        rows = read_observation_file(file)
        with migrated_database(settings) as db, db.session() as session:
            result = ingest_rows(session=session, rows=rows, max_rows=settings.max_batch_rows)
    except FragilityError as exc:
        errors = row_errors_of(exc) or []
        if as_json:
            typer.echo(json.dumps(error_body(type(exc).__name__, exc.message, hint_for(exc), None, errors or None)))
        else:
            for error in errors[:50]:
                typer.echo(f"row {error['row']}: {error['field']}: {error['reason']}", err=True)
            if len(errors) > 50:
                typer.echo(f"... and {len(errors) - 50} more", err=True)
        raise fail(exc.message, hint_for(exc), EXIT_INPUT) from exc
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"stored {file.name}: {result.inserted} inserted, {result.updated} updated, "
                   f"{result.unchanged} unchanged (batch {result.batch_id})")


service.cli_models.register(app)

if __name__ == "__main__":
    sys.exit(app())

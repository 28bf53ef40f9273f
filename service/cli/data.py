"""`fragility` commands on the local store: serve (the HTTP API), keys (create, revoke, list) and ingest."""

from __future__ import annotations

import errno
import json
import logging
import socket
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import (
    EXIT_INPUT,
    EXIT_PORT_IN_USE,
    fail,
    load_settings,
    migrated_database,
    sqlite_file_is_new,
    store_hint,
    with_session,
)

if TYPE_CHECKING:  # imported where used: `fragility --help` and the HTTP client commands stay quick to start
    from starlette.types import ASGIApp

    from service.settings import Settings

keys_app = typer.Typer(help="Create, revoke and list API keys.", no_args_is_help=True)


class Scope(StrEnum):
    """API key scopes: read < write < admin."""

    read = "read"
    write = "write"
    admin = "admin"


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default FRAGILITY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FRAGILITY_PORT).")] = None,
    demo: Annotated[bool, typer.Option(help="Load the 25 demo regions if no region is stored.")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the scheduler and worker "
                                            "inside the server process.")] = False,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="log every request as a JSON "
                                             "line on stderr (logger fragility.http)")] = True,
) -> None:
    """Migrate the database, optionally load the demo regions, and serve the HTTP API."""
    from indicators import load_demo_regions
    from service import runtime
    from service.app import create_app
    from service.crud.regions import list_regions, upsert_regions

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    check_port_free(host, port)

    def load_demo(*, session) -> int:
        if list_regions(session=session):
            return 0
        return upsert_regions(session=session, items=load_demo_regions(),
                              max_neighbours=settings.max_region_neighbours)["inserted"]

    loaded = with_session(settings, load_demo) if demo else with_session(settings, lambda session: 0)
    if loaded:
        typer.echo(f"loaded {loaded} demo regions", err=True)
    hooks = [] if no_worker else runtime.embedded_hooks(settings)
    application = create_app(settings, start_hooks=hooks, warm_questions=True)
    if not access_log:  # errors and warnings are still logged
        logging.getLogger("fragility.http").setLevel(logging.WARNING)
    run_http(application, settings, host=host, port=port)


def check_port_free(host: str, port: int) -> None:
    """Return nothing when `host`:`port` can be bound to serve on; else end the command with exit 4, naming
    FRAGILITY_PORT and --port (checked before any slow work, so a busy port is found at once)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise fail(f"cannot serve on {host}:{port}: {exc.strerror}", "Check FRAGILITY_HOST (or --host).",
                           EXIT_PORT_IN_USE) from exc
            raise fail(f"port {port} on {host} is already in use (another server, or an earlier `fragility serve`)",
                       f"Stop what listens there, or serve on another port: FRAGILITY_PORT={port + 1} make run, or "
                       f"`fragility serve --port {port + 1}` (`fragility demo --serve --port {port + 1}`); then point "
                       f"the CLI at it with --url http://127.0.0.1:{port + 1} or FRAGILITY_URL.",
                       EXIT_PORT_IN_USE) from exc


def run_http(application: ASGIApp, settings: Settings, *, host: str, port: int) -> None:
    """Serve `application` with uvicorn until stopped; returns nothing.

    Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the addresses in
    settings.trusted_proxies (none by default: uvicorn's own default would trust 127.0.0.1). The soft open-file
    limit is raised to the hard one first, and connections get the header timeout and the per-address cap on
    connections waiting for their headers of service.connections.
    """
    import uvicorn

    from service.connections import header_timeout_protocol, raise_open_file_limit

    soft, hard = raise_open_file_limit()
    logging.getLogger("fragility.app").info("open-file limit", extra={"soft": soft, "hard": hard})
    trusted = [part.strip() for part in settings.trusted_proxies.split(",") if part.strip()]
    protocol = header_timeout_protocol(settings.header_timeout_seconds, settings.max_requests_per_client)
    uvicorn.run(application, host=host, port=port, log_config=None, timeout_graceful_shutdown=10,
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None, http=protocol)


@keys_app.command("create")
def keys_create(
    scope: Annotated[Scope, typer.Option(help="read < write < admin; each implies the ones before it.")],
    label: Annotated[str | None, typer.Option(help="A note saying whose key this is.")] = None,
) -> None:
    """Create an API key and print it once (the last word of the output is the key)."""
    from service.crud.keys import create_key

    info, secret = with_session(load_settings(), lambda session: create_key(session=session, scope=scope.value,
                                                                           label=label))
    typer.echo(f"created {info.scope} key id={info.id} prefix={info.prefix} (shown once, store it now): {secret}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's prefix, numeric id, or the key itself.")]) -> None:
    """Revoke an API key; requests with it are then refused with 401."""
    from service.crud.keys import revoke_key

    info = with_session(load_settings(), lambda session: revoke_key(session=session, prefix_or_id=key))
    typer.echo(f"revoked key id={info.id} prefix={info.prefix} scope={info.scope}")


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False) -> None:
    """List API keys (id, prefix, scope, label, created, revoked); never the secrets."""
    from service.crud.keys import list_keys

    for info in with_session(load_settings(), lambda session: list_keys(session=session)):
        if as_json:
            typer.echo(json.dumps(info.to_dict()))
        else:
            state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
            typer.echo(f"{info.id}\t{info.prefix}\t{info.scope}\t{state}\t{info.label or ''}")


def read_observation_file(path: Path) -> tuple[list[dict], list[int] | None]:
    """Return the raw rows of a CSV or JSON observations file (by suffix; else by first character), and for a
    CSV file the file line where each row starts (None for JSON).

    Raises InputError when the file cannot be read or parsed.
    """
    from indicators import InputError, read_observations_csv_lines, read_observations_json

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", hint="Check the path.") from exc
    is_json = path.suffix.lower() == ".json" or (path.suffix.lower() != ".csv" and data.lstrip()[:1] in (b"{", b"["))
    return (read_observations_json(data), None) if is_json else read_observations_csv_lines(data)


def ingest(
    file: Annotated[Path, typer.Argument(help="Observations as CSV (region,indicator,period,value) or JSON.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result (or the errors) as JSON.")] = False,
) -> None:
    """Validate and store an observations file atomically, like POST /v1/observations. Bad rows of a CSV file are
    named by file line (the header is line 1) and 0-based data row; of a JSON file, by row."""
    from indicators import FragilityError
    from service.crud.observations import ingest_rows
    from service.errors import error_body, row_errors_of

    settings = load_settings()
    store_was_new = sqlite_file_is_new(settings.database_url)
    try:
        rows, lines = read_observation_file(file)
        with migrated_database(settings) as db, db.session() as session:
            result = ingest_rows(session=session, rows=rows, max_rows=settings.max_batch_rows, lines=lines)
    except FragilityError as exc:
        errors = row_errors_of(exc) or []
        if as_json:
            typer.echo(json.dumps(error_body(type(exc).__name__, exc.message, store_hint(exc, settings, store_was_new),
                                             None, errors or None)))
        else:
            for error in errors[:50]:
                typer.echo(f"{row_place(error)}: {error['field']}: {error['reason']}", err=True)
            if len(errors) > 50:
                typer.echo(f"... and {len(errors) - 50} more", err=True)
        raise fail(exc.message, store_hint(exc, settings, store_was_new), EXIT_INPUT) from exc
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"stored {file.name}: {result.inserted} inserted, {result.updated} updated, "
                   f"{result.unchanged} unchanged (batch {result.batch_id})")


def row_place(error: dict) -> str:
    """Return where a row error is: "line 3 (row 1)" for a CSV row, "row 1" for a JSON one."""
    return f"line {error['line']} (row {error['row']})" if error.get("line") is not None else f"row {error['row']}"


def register(app: typer.Typer) -> None:
    """Add serve, keys and ingest to the `fragility` CLI; returns nothing."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.command("ingest")(ingest)

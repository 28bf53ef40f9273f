"""What every `fragility` command shares: exit codes, the settings, opening the migrated store, the
`--url`/`--key`/`--json` options of the HTTP client commands, and printing errors and answers.

Exit codes: 0 ok, 1 input error, 2 usage error, 3 server or database unreachable, 4 the port to serve on is in use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:  # the HTTP client commands import none of these (start time): functions import them when run
    from rich.table import Table

    from indicators import FragilityError
    from service.db.engine import Database
    from service.settings import Settings

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_PORT_IN_USE = 0, 1, 2, 3, 4
HEAVY_MODULES = ("pandas", "alembic", "psycopg", "sqlalchemy")
"""What the HTTP client commands must not import (each costs seconds of start time); tests check it."""
T = TypeVar("T")

UrlOption = Annotated[str, typer.Option("--url", envvar="FRAGILITY_URL", help="server URL")]
KeyOption = Annotated[str | None, typer.Option("--key", envvar="FRAGILITY_KEY", help="API key")]
JsonOption = Annotated[bool, typer.Option("--json", help="print the answer as JSON")]
ModelArgument = Annotated[str, typer.Argument(help="the model's name (see `fragility models list`)")]
DEFAULT_URL = "http://127.0.0.1:8000"
console = Console(stderr=True)


def fail(message: str, hint: str, code: int) -> typer.Exit:
    """Return an Exit with `code` after printing the message and what to do to stderr."""
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Return the settings from the environment; an invalid FRAGILITY_* value ends the command with exit 2."""
    from pydantic import ValidationError

    from service.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"FRAGILITY_{'__'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid configuration: {problems}", "Fix the FRAGILITY_* environment variables "
                   "(or .env); see the README's Configuration section.", EXIT_USAGE) from exc


def sqlite_file_is_new(url: str) -> bool:
    """Return whether `url` names a SQLite file that does not exist yet (opening it creates an empty store)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and bool(parsed.database) and parsed.database != ":memory:" \
        and not Path(parsed.database).exists()


@contextmanager
def migrated_database(settings: Settings) -> Iterator[Database]:
    """Yield the migrated database of `settings`, saying which store on stderr; an unreachable database ends
    the command with exit 3."""
    from sqlalchemy.exc import OperationalError

    from service.db.engine import Database, run_migrations, safe_url
    from service.errors import DatabaseUnavailable

    new = sqlite_file_is_new(settings.database_url)
    typer.echo(f"store: {safe_url(settings.database_url)}" + (" (created now: empty)" if new else ""), err=True)
    try:
        run_migrations(settings.database_url)
        db = Database(settings.database_url, settings.db)
        try:
            yield db
        finally:
            db.dispose()
    except (DatabaseUnavailable, OperationalError) as exc:
        raise fail(f"database at {safe_url(settings.database_url)} is unreachable ({exc})",
                   unreachable_hint(settings.database_url), EXIT_UNREACHABLE) from exc


def unreachable_hint(url: str) -> str:
    """Return the hint for a database that cannot be opened: for a SQLite file, what its folder lacks (the usual
    cause in a container: a bind mount at /data that the image's user, uid 10001, cannot write); else the server's."""
    from sqlalchemy.engine import make_url

    from service.errors import DatabaseUnavailable

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return DatabaseUnavailable.hint
    folder = Path(parsed.database).absolute().parent
    if not folder.is_dir():
        lacks = f"the folder {folder} does not exist"
    elif not os.access(folder, os.W_OK | os.X_OK):
        lacks = f"the folder {folder} is not writable by this user (uid {os.getuid()})"
    else:
        lacks = f"check that the folder {folder} and the file are readable and writable by uid {os.getuid()}"
    return (f"FRAGILITY_DATABASE_URL names a SQLite file: {lacks}. In the Docker image the service runs as uid "
            "10001: mount a named volume at /data, or make a bind-mounted folder writable by it "
            "(chown 10001 FOLDER).")


def with_session(settings: Settings, work: Callable[..., T]) -> T:
    """Return `work(session=...)` run on the migrated database; our errors end the command with exit 1 (3)."""
    from indicators import FragilityError

    new = sqlite_file_is_new(settings.database_url)
    try:
        with migrated_database(settings) as db, db.session() as session:
            return work(session=session)
    except FragilityError as exc:
        raise fail(exc.message, store_hint(exc, settings, new), exit_code_of(exc)) from exc


def store_hint(exc: FragilityError, settings: Settings, store_was_new: bool) -> str:
    """Return the hint of `exc`, plus a note when the command has just created the (empty) store."""
    from service.db.engine import safe_url
    from service.errors import hint_for

    hint = hint_for(exc)
    if store_was_new:
        hint += (f" Note: the store {safe_url(settings.database_url)} was created by this command and is empty;"
                 " a relative SQLite path depends on the working directory: set FRAGILITY_DATABASE_URL to the"
                 " store you meant.")
    return hint


def exit_code_of(exc: FragilityError) -> int:
    """Return the exit code of one of our errors: 3 when the service or database is unreachable (503), else 1."""
    from service.errors import status_for

    return EXIT_UNREACHABLE if status_for(exc) == 503 else EXIT_INPUT


def emit(data: Any, as_json: bool, table: Table | None = None) -> None:
    """Print `data` as JSON, or `table` (falls back to JSON when no table is given); returns nothing."""
    if as_json or table is None:
        print(json.dumps(data, indent=2, default=str))
        return
    out = Console()
    for column in table.columns:  # a long cell wraps onto more lines, it is never cut to "..."
        column.overflow = "fold"
    needed = Console(width=1000).measure(table).maximum
    if not out.is_terminal:  # piped or captured: as wide as the table needs (rich would assume 80 columns)
        out = Console(width=max(out.width, needed))
    elif needed > out.width and len(table.columns) > 4:  # a wide table on a narrow terminal: one record per row
        print_records(out, table)
        return
    out.print(table)


def print_records(out: Console, table: Table) -> None:
    """Print `table` as one block per row, "header: value" per line (for terminals narrower than the table)."""
    if table.title:
        out.print(table.title, style="bold")
    headers = [str(column.header).replace("\n", " ") for column in table.columns]
    width = max(map(len, headers))
    for row in zip(*(list(column.cells) for column in table.columns), strict=True):
        out.print()
        for header, cell in zip(headers, row, strict=True):
            out.print(f"{header:>{width}}: {cell}", highlight=False, overflow="fold")
    if table.caption:
        out.print()
        out.print(table.caption)

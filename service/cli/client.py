"""The HTTP client of the `fragility` commands that talk to a server: JSON calls and file downloads, with
error answers printed as `error:` (status, error class, detail), one line per invalid field or row, and
`hint:`; an unreachable server or database ends the command with exit 3, any other error answer with exit 1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import typer

from service.cli.common import EXIT_INPUT, EXIT_UNREACHABLE

ROUTE_COMMANDS = (  # the HTTP routes a server hint names -> the command that does the same here (most specific first)
    ("GET /v1/models/{name}/versions", "`fragility models show NAME`"),
    ("POST /v1/models/{name}/fit", "`fragility fit NAME`"),
    ("POST /v1/models/{name}/backtests", "`fragility backtest NAME`"),
    ("GET /v1/models", "`fragility models list`"),
    ("POST /v1/models", "`fragility models create`"),
)
UNREACHABLE_HINT = "Start the server (`fragility serve`), or point --url / FRAGILITY_URL at the one you meant."
NOT_FRAGILITY_HINT = ("If another program listens there (the CLI asks http://127.0.0.1:8000 unless told), point "
                      "--url / FRAGILITY_URL at the fragility server: e.g. --url http://127.0.0.1:8001 after "
                      "`FRAGILITY_PORT=8001 make run`.")


class ServerClient:
    """A small client of the fragility server that turns error answers into a clean exit."""

    def __init__(self, url: str, key: str | None, http: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = http if http is not None else httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)
        self.http.headers.update(headers)

    def call(self, method: str, path: str, **kwargs) -> Any:
        """Return the decoded JSON answer; an error answer is printed and ends the command (exit 1, or 3)."""
        response = self.checked(self.send(method, path, **kwargs))
        try:
            return response.json()
        except ValueError:
            raise not_fragility(response, EXIT_INPUT) from None

    def download(self, path: str, out: Path, **kwargs) -> int:
        """Write the body of `GET path` to `out`; return the number of bytes written.

        The body goes to `out`.part first and replaces `out` only when complete, so an error answer or a broken
        transfer leaves any earlier `out` as it was (an error answer is printed and ends the command).
        """
        partial = out.with_name(out.name + ".part")
        try:
            with self.http.stream("GET", path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    self.checked(response)
                written = 0
                with open(partial, "wb") as handle:
                    for block in response.iter_bytes():
                        written += handle.write(block)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise unreachable(self.http.base_url, exc) from exc
        partial.replace(out)
        return written

    def send(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Return the server's response; ends the command with exit 3 when the server cannot be reached."""
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.http.base_url, exc) from exc

    @staticmethod
    def checked(response: httpx.Response) -> httpx.Response:
        """Return `response` when it is not an error answer; else print it and end the command."""
        if response.status_code < 400:
            return response
        exit_code = EXIT_UNREACHABLE if response.status_code == 503 else EXIT_INPUT
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and body.get("error")):  # every fragility error answer names its class
            raise not_fragility(response, exit_code)
        typer.echo(f"error: {response.status_code} {body.get('error', '')}: {body.get('detail', '')}", err=True)
        for problem in body.get("errors") or []:
            typer.echo(f"  {where(problem)}{option_of(problem.get('field'))}: {problem.get('reason', 'invalid')}",
                       err=True)
        if body.get("hint"):
            typer.echo(f"hint: {cli_words(body['hint'])}", err=True)
        raise typer.Exit(exit_code)


def where(problem: dict) -> str:
    """Return the place of one listed error: "line 3 (row 1), " for a CSV row, "row 1, " for a JSON row, else ""."""
    if problem.get("line") is not None:
        return f"line {problem['line']} (row {problem['row']}), "
    return f"row {problem['row']}, " if problem.get("row") is not None else ""


def option_of(field: str | None) -> str:
    """Return the command-line option of an invalid request field: "query.horizon" and "horizon" -> "--horizon",
    "scenario.2026-01" -> "--scenario (2026-01)"; "request" when the answer names no field."""
    if not field:
        return "request"
    first, _, rest = re.sub(r"^(query|body)\.", "", field).partition(".")
    return f"--{first.replace('_', '-')}" + (f" ({rest})" if rest else "")


def cli_words(hint: str) -> str:
    """Return a server hint as the command line reads it: routes it names become the commands that do the same,
    request fields (`query.horizon`) become options (`--horizon`)."""
    for route, command in ROUTE_COMMANDS:
        hint = hint.replace(route, command)
    return re.sub(r"\b(?:query|body)\.([a-z_]+)", lambda m: "--" + m.group(1).replace("_", "-"), hint)


def not_fragility(response: httpx.Response, exit_code: int) -> typer.Exit:
    """Return the exit (`exit_code`) for an answer that is not a fragility server's (another program on the port),
    after printing an error line naming who answered and a hint naming --url / FRAGILITY_URL."""
    typer.echo(f"error: {response.status_code} from {server_of(response)}, which does not answer as a fragility "
               f"server: {short_text(response.text)}", err=True)
    typer.echo(f"hint: {NOT_FRAGILITY_HINT}", err=True)
    return typer.Exit(exit_code)


def server_of(response: httpx.Response) -> str:
    """Return the scheme, host and port that answered `response` ("http://127.0.0.1:8000")."""
    url = response.request.url
    return f"{url.scheme}://{url.netloc.decode()}"


def short_text(text: str, limit: int = 200) -> str:
    """Return `text` on one line, cut to `limit` characters ("(empty body)" when there is none)."""
    line = " ".join(text.split())
    return (line[:limit] + " ...") if len(line) > limit else (line or "(empty body)")


def unreachable(url: Any, exc: Exception) -> typer.Exit:
    """Return the exit (code 3) for a server that cannot be reached, after printing error and hint lines."""
    typer.echo(f"error: cannot reach the server at {url}: {exc}", err=True)
    typer.echo(f"hint: {UNREACHABLE_HINT}", err=True)
    return typer.Exit(EXIT_UNREACHABLE)

"""CLI commands of the model registry, clients of a running server like the other model commands:
`fragility models list|show|create` and `fragility paths` (the served version's joint simulated paths to a file).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from service.cli.client import ServerClient
from service.cli.common import (
    DEFAULT_URL,
    EXIT_USAGE,
    JsonOption,
    KeyOption,
    ModelArgument,
    UrlOption,
    console,
    emit,
    fail,
)
from service.cli.formatting import gate_verdict, number

models_app = typer.Typer(help="List, show and create models (GET and POST /v1/models).", no_args_is_help=True)
ACTIVE_JOBS = ("queued", "running")


class PathFormat(StrEnum):
    """File formats of `fragility paths` (GET /v1/models/{name}/paths?format=)."""

    csv = "csv"
    parquet = "parquet"
    npz = "npz"


def model_status(model: dict[str, Any], versions: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> str:
    """Return one phrase on where a model stands: a queued or running job, else its newest version's state."""
    active = next((job for job in jobs if job["status"] in ACTIVE_JOBS), None)
    if active is not None and active.get("worker_lost"):
        return f"{active['kind']} job {active['id']} running, worker lost: waiting for a worker to retry"
    if active is not None:
        return f"{active['kind']} job {active['id']} {active['status']}"
    if not versions:
        return "never fitted"
    newest = versions[0]
    if newest["broken"]:
        return f"v{newest['version']} broken"
    if newest["served"]:
        return "serving its newest version"
    if not newest["gate"]["passed"]:
        return f"v{newest['version']} failed the gate" + (f"; v{model['served_version']} serves"
                                                          if model["served_version"] else "")
    return f"v{newest['version']} not promoted"


@models_app.command("list")
def models_list(url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """List the models with the version each serves, its newest version and status."""
    client = ServerClient(url, key)
    rows = []
    for model in client.call("GET", "/v1/models")["data"]:
        versions = client.call("GET", f"/v1/models/{model['name']}/versions")["data"]
        jobs = client.call("GET", f"/v1/models/{model['name']}/jobs", params={"limit": 5})["data"]
        rows.append({**model, "newest_version": versions[0]["version"] if versions else None,
                     "status": model_status(model, versions, jobs)})
    table = Table(title=f"{len(rows)} model(s)")
    table.add_column("name", no_wrap=True, min_width=max((len(row["name"]) for row in rows), default=4))
    for column in ("family", "indicator", "serves", "newest", "status", "schedule"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["family"], row["indicator"], version_label(row["served_version"]),
                      version_label(row["newest_version"]), row["status"], row["schedule"] or "-")
    emit({"data": rows, "count": len(rows)}, as_json, table)


def version_label(number_: int | None) -> str:
    """Return "v3" for a version number, "-" for none."""
    return "-" if number_ is None else f"v{number_}"


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="the model's name")],
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Show one model: its definition, then every version (newest first) with diagnostics and gate verdict."""
    client = ServerClient(url, key)
    model = client.call("GET", f"/v1/models/{name}")
    versions = client.call("GET", f"/v1/models/{name}/versions")["data"]
    if as_json:
        emit({"model": model, "versions": versions}, True)
        return
    typer.echo(describe(model))
    emit(versions, False, versions_table(name, versions))


def describe(model: dict[str, Any]) -> str:
    """Return one paragraph describing a model's definition and the version it serves."""
    sampler = model["sampler"]
    return (f"{model['name']}: {model['family']} model of {model['indicator']} in "
            f"{', '.join(model['regions']) or 'every region'}; covariates {', '.join(model['covariates']) or 'none'}; "
            f"spillover {'on' if model['spillover'] else 'off'} ({model['normalise']} weights); horizon "
            f"{model['horizon']} months; sampler {sampler.get('method')} {sampler.get('chains')} x "
            f"({sampler.get('tune')} + {sampler.get('draws')}); schedule {model['schedule'] or 'none'}; "
            f"serves {version_label(model['served_version'])}")


def versions_table(name: str, versions: list[dict[str, Any]]) -> Table:
    """Return the table of a model's versions: state, data, diagnostics and the gate's reasons."""
    table = Table(title=f"versions of {name}")
    for column in ("version", "created (UTC)", "state", "last month", "R-hat max", "ESS bulk min", "divergences",
                   "gate"):
        table.add_column(column, justify="right" if column in ("R-hat max", "ESS bulk min", "divergences") else "left")
    for v in versions:
        d = v["diagnostics"] or {}
        state = "broken" if v["broken"] else "serving" if v["served"] else "promoted" if v["promoted"] else "-"
        rhat, ess = d.get("rhat_max"), d.get("ess_bulk_min")
        table.add_row(f"v{v['version']}", str(v["created_at"])[:16].replace("T", " "), state, v["last_period"] or "-",
                      "-" if rhat is None else f"{rhat:.3f}", "-" if ess is None else f"{ess:.0f}",
                      str(d.get("divergences", "-")),
                      gate_verdict(v["gate"]["passed"], d.get("gate"))
                      + ("" if v["gate"]["passed"] else ": " + "; ".join(v["gate"]["reasons"])))
    return table


@models_app.command("create")
def models_create(
    name: Annotated[str | None, typer.Argument(help="the model's name (or `name` in --file)")] = None,
    file: Annotated[Path | None, typer.Option(
        "--file", help="a JSON file holding the POST /v1/models body; options given here override its fields")] = None,
    indicator: Annotated[str | None, typer.Option(help="the indicator to forecast, e.g. conflict_deaths")] = None,
    family: Annotated[str | None, typer.Option(help="model family (default count; see the README)")] = None,
    regions: Annotated[str | None, typer.Option(help="comma-separated region ids (default: every region)")] = None,
    covariates: Annotated[str | None, typer.Option(help="comma-separated indicators the model reads")] = None,
    spillover: Annotated[bool | None, typer.Option(
        "--spillover/--no-spillover", help="model spillover between neighbours (default on)")] = None,
    normalise: Annotated[str | None, typer.Option(help="spillover weights: target (default) or source")] = None,
    horizon: Annotated[int | None, typer.Option(
        help="months of forecast paths stored per version (default 12)")] = None,
    schedule: Annotated[str | None, typer.Option(help="cron expression of scheduled refits, e.g. '0 3 1 * *'")] = None,
    method: Annotated[str | None, typer.Option(help="sampler: nutpie (default), pymc or advi")] = None,
    draws: Annotated[int | None, typer.Option(help="draws per chain (default 1300)")] = None,
    tune: Annotated[int | None, typer.Option(help="tuning steps per chain (default 400)")] = None,
    chains: Annotated[int | None, typer.Option(help="chains (default 2)")] = None,
    seed: Annotated[int | None, typer.Option(help="sampler seed (default 1)")] = None,
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Create a model (POST /v1/models) from options or a JSON file; prints the stored model. Needs a write key."""
    body = model_body(file, name=name, indicator=indicator, family=family, regions=split(regions),
                      covariates=split(covariates), spillover=spillover, normalise=normalise, horizon=horizon,
                      schedule=schedule)
    sampler = {k: v for k, v in (("method", method), ("draws", draws), ("tune", tune), ("chains", chains),
                                 ("seed", seed)) if v is not None}
    if sampler:
        body["sampler"] = {**(body.get("sampler") or {}), **sampler}
    model = ServerClient(url, key).call("POST", "/v1/models", json=body)
    if as_json:
        emit(model, True)
    else:
        console.print(f"created model {model['name']} ({model['family']} model of {model['indicator']}, horizon "
                      f"{number(model['horizon'])} months); fit it with `fragility fit {model['name']}`")


def split(text: str | None) -> list[str] | None:
    """Return the items of a comma-separated option (None when the option was not given)."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def model_body(file: Path | None, **options: Any) -> dict[str, Any]:
    """Return the POST /v1/models body: the JSON file's object (if any) with the given options over it.

    Ends the command with exit 2 when the file cannot be read or is not a JSON object.
    """
    body: dict[str, Any] = {}
    if file is not None:
        try:
            body = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise fail(f"cannot read the model file {file}: {exc}",
                       "Give a JSON object such as {\"name\": \"m\", \"indicator\": \"conflict_deaths\"}.",
                       EXIT_USAGE) from exc
        if not isinstance(body, dict):
            raise fail(f"the model file {file} holds a JSON {type(body).__name__}, not an object",
                       "Give the POST /v1/models body: a JSON object.", EXIT_USAGE)
    body.update({k: v for k, v in options.items() if v is not None})
    return body


def paths_command(
    model: ModelArgument,
    out: Annotated[Path, typer.Option("--out", help="file to write (replaced only when the download is complete)")],
    regions: Annotated[str | None, typer.Option(
        help="comma-separated region ids (default: every region of the version)")] = None,
    fmt: Annotated[PathFormat | None, typer.Option(
        "--format", help="csv (long: path, draw_group, period, region, value), parquet (the same columns) or npz "
        "(arrays: paths by path x step x region, periods, regions, groups); default: from --out's suffix, "
        "else csv")] = None,
    version: Annotated[int | None, typer.Option(help="version number (default: the served one)")] = None,
    url: UrlOption = DEFAULT_URL, key: KeyOption = None,
) -> None:
    """Download the joint simulated paths of MODEL's served version (GET /v1/models/MODEL/paths) to --out, for
    computing any event in your own tools; prints what was written."""
    chosen = fmt or next((f for f in PathFormat if out.suffix.lower() == f".{f.value}"), PathFormat.csv)
    params: dict[str, Any] = {"format": chosen.value}
    if regions:
        params["regions"] = regions
    if version is not None:
        params["version"] = version
    size = ServerClient(url, key).download(f"/v1/models/{model}/paths", out, params=params)
    typer.echo(f"wrote {out} ({chosen.value}, {size:,} bytes)", err=True)


def register(app: typer.Typer) -> None:
    """Add `models` (list, show, create) and `paths` to the `fragility` CLI; returns nothing."""
    app.add_typer(models_app, name="models")
    app.command("paths")(paths_command)

"""CLI commands for models: worker, fit, forecast, probability, spillover, backtest.

`worker` runs locally against FRAGILITY_DATABASE_URL. The others are clients of a running server
over HTTP (`--url` / FRAGILITY_URL, `--key` / FRAGILITY_KEY), so they work the same against a
laptop or a production deployment, and use exactly the code paths of the HTTP API.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.cli.client import ServerClient
from service.cli.common import (
    DEFAULT_URL,
    JsonOption,
    KeyOption,
    ModelArgument,
    UrlOption,
    console,
    emit,
    load_settings,
)
from service.cli.formatting import interval, levels, mc_error, number, percent, points, quantile_header

FINAL = ("succeeded", "failed", "cancelled", "skipped")


def parse_scenario(text: str) -> dict | list:
    """Return the scenario of a --scenario option: `scale=2`, `2026-01=40,2026-02=60`, or JSON.

    Raises typer.BadParameter saying what is wrong and what is accepted.
    """
    text = text.strip()
    accepted = "use scale=2, 2026-01=40,2026-02=60, or JSON such as [40, null, 60]"
    if text[:1] in "[{":
        try:
            return checked_scenario(json.loads(text), accepted)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not valid JSON ({exc.msg}); {accepted}") from exc
    values: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = part.partition("=")
        try:
            values[key.strip()] = float(raw)
        except ValueError:
            raise typer.BadParameter(f"{part!r} is not key=number; {accepted}") from None
        if not sep or not key.strip():
            raise typer.BadParameter(f"{part!r} is not key=number; {accepted}")
    if not values or ("scale" in values and len(values) > 1):
        raise typer.BadParameter(f"{text!r}: give scale=F alone or months=values; {accepted}")
    return checked_scenario(values, accepted)


def checked_scenario(scenario: dict | list, accepted: str) -> dict | list:
    """Return `scenario` if the API would accept it (service.schemas.scenario); raises typer.BadParameter."""
    from service.schemas.scenario import check_scenario

    try:
        return check_scenario(scenario)
    except ValueError as exc:
        raise typer.BadParameter(f"scenario {exc}; {accepted}") from None


def wait_for_job(client: ServerClient, job_id: int, *, label: str, show: bool, poll: float = 1.0) -> dict:
    """Return the job once it ended, showing a spinner with its status and attempts while waiting."""
    job = client.call("GET", f"/v1/jobs/{job_id}")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not show) as progress:
        task = progress.add_task(label, total=None)
        while job["status"] not in FINAL:
            progress.update(task, description=f"{label}: {job_state(job)}")
            time.sleep(poll)
            job = client.call("GET", f"/v1/jobs/{job_id}")
    return job


def job_state(job: dict) -> str:
    """Return a job's status and attempt as a phrase: "running (attempt 1)", or for a running job whose worker
    was lost "worker lost, waiting for a worker (attempt 2 of 3 next)"."""
    if job.get("worker_lost"):
        following = job["attempts"] + 1
        if following > job["max_attempts"]:
            return f"worker lost (attempt {job['attempts']} of {job['max_attempts']}); fails when a worker claims it"
        return f"worker lost, waiting for a worker (attempt {following} of {job['max_attempts']} next)"
    return f"{job['status']} (attempt {job['attempts']})"


def worker_command(
    poll: Annotated[float, typer.Option(help="seconds between polls of an empty queue")] = 1.0,
) -> None:
    """Run one job worker (claims fit, forecast and backtest jobs) until Ctrl-C or SIGTERM."""
    from service.jobs.worker import run_worker_until_signalled

    settings = load_settings()
    console.print(f"worker on {settings.database_url.split('@')[-1]}")
    run_worker_until_signalled(settings, poll_seconds=poll)


def fit_command(
    model: ModelArgument, url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
    wait: Annotated[bool, typer.Option(help="wait for the job and show its progress")] = True,
) -> None:
    """Queue a fit of MODEL and (by default) wait for it, showing progress; prints the job."""
    client = ServerClient(url, key)
    job_id = client.call("POST", f"/v1/models/{model}/fit")["job_id"]
    job = wait_for_job(client, job_id, label=f"fitting {model}", show=not as_json) if wait else \
        client.call("GET", f"/v1/jobs/{job_id}")
    if as_json:
        emit(job, True)
    else:
        result = job.get("result") or {}
        gate = result.get("gate") or {}
        seconds = job.get("seconds")
        took = f" after {seconds:.0f} s" if seconds is not None else ""
        console.print(f"job {job['id']} {job['status']}{took}; version {job.get('version') or '-'}"
                      f"{'; promoted' if result.get('promoted') else ''}")
        if gate and not gate.get("passed"):
            console.print("gate failed: " + "; ".join(gate.get("reasons", [])))
        if job.get("error"):
            console.print(f"[red]{job['error']}[/red]")
    if job["status"] == "failed":
        raise typer.Exit(1)


def forecast_command(
    model: ModelArgument,
    region: Annotated[str, typer.Option(help="region id to forecast, e.g. IRN (see GET /v1/regions)")],
    horizon: Annotated[int, typer.Option(help="months ahead, 1.. the horizon the served version was simulated for")],
    quantiles: Annotated[str, typer.Option(help="comma-separated levels")] = "0.05,0.5,0.95",
    version: Annotated[int | None, typer.Option(help="version number to read (default: the served one)")] = None,
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Print the forecast of one region: mean and quantiles per month."""
    params: dict[str, Any] = {"region": region, "horizon": horizon, "quantiles": quantiles}
    if version is not None:
        params["version"] = version
    data = ServerClient(url, key).call("GET", f"/v1/models/{model}/forecast", params=params)
    steps = data["steps"]
    asked = list(steps[0]["quantiles"]) if steps else []
    unit = data.get("unit") or data["indicator"]
    table = Table(title=f"{data['model']} v{data['version']}: {data['indicator']} in {data['region']} ({unit})")
    table.add_column("period", justify="left")
    for column in ("mean", *map(quantile_header, asked)):
        table.add_column(column, justify="right")
    columns = [levels([step["mean"] for step in steps])] + [levels([step["quantiles"][q] for step in steps])
                                                              for q in asked]
    for i, step in enumerate(steps):
        table.add_row(step["period"], *(column[i] for column in columns))
    table.caption = (f"every value in {unit}; q05 = the 5% quantile of the simulated months, q50 the median; "
                     + covariates_caption(data))
    emit(data, as_json, table)


def covariates_caption(data: dict[str, Any]) -> str:
    """Return one line saying how the forecast's covariates moved (held, or which model version moved them)."""
    parts = []
    for name, detail in (data.get("covariates") or {}).items():
        if detail.get("mode") == "modelled":
            parts.append(f"{name} moved by {detail.get('model', detail.get('source'))} v{detail.get('version', '?')}")
        else:
            parts.append(f"{name} held at its last value" + (f" ({detail['reason']})" if detail.get("reason") else ""))
    return f"covariates: {data.get('covariates_mode') or 'none'}" + (": " + "; ".join(parts) if parts else "")


def spillover_command(
    model: ModelArgument,
    source: Annotated[str, typer.Option(help="region whose channel into the target is cut, e.g. IRQ")],
    target: Annotated[str, typer.Option(help="region at risk, a neighbour of the source, e.g. IRN")],
    threshold: Annotated[float, typer.Option(
        help="value to reach in some month, in the indicator's unit (e.g. deaths per month)")],
    horizon: Annotated[int, typer.Option(help="months ahead within which the threshold is reached")],
    scenario: Annotated[str | None, typer.Option(help=(
        "the source's path instead of its simulated one: scale=2 (its simulated values doubled), "
        "2026-01=40,2026-02=60 (given months), or JSON ([40, null, 60] per month, {\"2026-01\": 40}, "
        "{\"scale\": 2})"))] = None,
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Print P(target >= threshold within horizon), without the source's channel, and the difference."""
    body: dict[str, Any] = {"source": source, "target": target, "threshold": threshold, "horizon": horizon}
    if scenario:
        body["scenario"] = parse_scenario(scenario)
    data = ServerClient(url, key).call("POST", f"/v1/models/{model}/spillover", json=body)
    table = Table(title=f"{source} -> {target}, >= {number(threshold)} within {horizon} months "
                        f"({data['normalise']} weights)")
    for column, justify in (("quantity", "left"), ("value", "right"), ("90% credible interval", "right"),
                            ("Monte Carlo error", "right")):
        table.add_column(column, justify=justify)
    errors = data.get("mc_standard_error") or {}
    for name, field, write in (("probability", "probability", percent),
                               ("without source", "probability_without_source", percent),
                               ("attributable", "attributable", points), ("channel share", "channel_share", percent)):
        table.add_row(name, write(data.get(field)), interval(data.get(f"{field}_interval"), write),
                      mc_error(errors.get(field)))
    if data.get("channel_probability") is not None:
        label = f"P(channel adds > {100 * data['channel_min_effect']:.0f} pt)"
        table.add_row(label, percent(data["channel_probability"]), "posterior probability", "")
    table.caption = data.get("interval_method")
    emit(data, as_json, table)


def probability_command(
    model: ModelArgument,
    region: Annotated[str, typer.Option(help="region at risk, e.g. IRN (see GET /v1/regions)")],
    threshold: Annotated[float, typer.Option(
        help="value to reach, in the indicator's unit (e.g. deaths per month); not negative")],
    horizon: Annotated[int, typer.Option(help="months ahead, 1.. the horizon the served version was simulated for")],
    within: Annotated[bool, typer.Option(
        "--within/--per-month", help="--within: P(some month 1..horizon >= threshold); --per-month: P(month h >= "
        "threshold) for each month")] = True,
    version: Annotated[int | None, typer.Option(help="version number to ask (default: the served one)")] = None,
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Print P(REGION >= threshold) within the horizon (or per month), like POST /v1/models/MODEL/probability:
    the predictive probability, its 90% credible interval and its Monte Carlo error."""
    body: dict[str, Any] = {"region": region, "threshold": threshold, "horizon": horizon, "within": within}
    if version is not None:
        body["version"] = version
    data = ServerClient(url, key).call("POST", f"/v1/models/{model}/probability", json=body)
    when = f"within {horizon} months" if within else "per month"
    table = Table(title=f"{data['model']} v{data['version']}: {region} >= {number(threshold)} {when}")
    for column, justify in (("event", "left"), ("probability", "right"), ("90% credible interval", "right"),
                            ("Monte Carlo error", "right")):
        table.add_column(column, justify=justify)
    for name, value, bounds, error in probability_rows(data):
        table.add_row(name, percent(value), interval(bounds), mc_error(error))
    table.caption = data.get("interval_method")
    emit(data, as_json, table)


def probability_rows(data: dict[str, Any]) -> list[tuple[str, float, list[float] | None, float | None]]:
    """Return (event, probability, interval, Monte Carlo error) rows of a probability answer: one row for
    `within`, one per month otherwise. The interval is the credible one, else the Monte Carlo one of old versions."""
    if data["within"]:
        return [(f"some month 1..{data['horizon']}", data["probability"], data.get("interval"),
                 data.get("mc_standard_error"))]
    errors = data.get("mc_standard_error") or [None] * len(data["probability"])
    return [(f"month {h + 1}", p, bounds, se)
            for h, (p, bounds, se) in enumerate(zip(data["probability"], data["interval"], errors, strict=True))]


def backtest_command(
    model: ModelArgument,
    origins: Annotated[int, typer.Option(help="number of forecast origins")],
    horizon: Annotated[int, typer.Option(help="months ahead scored at each origin")],
    step: Annotated[int, typer.Option(help="months between origins")] = 1,
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
) -> None:
    """Queue a backtest of MODEL beside the baselines, wait for it and print the scores per horizon."""
    client = ServerClient(url, key)
    job_id = client.call("POST", f"/v1/models/{model}/backtests",
                         json={"origins": origins, "horizon": horizon, "step": step})["job_id"]
    wait_for_job(client, job_id, label=f"backtesting {model}", show=not as_json)
    data = client.call("GET", f"/v1/backtests/{job_id}")
    table = Table(title=f"backtest of {model}: {origins} origins, horizon {horizon}")
    for column in ("forecaster", "horizon (months)", "CRPS (indicator unit)", "CRPS of log1p", "90% coverage",
                   "cells"):
        table.add_column(column, justify="right")
    for row in data["scores"]:
        table.add_row(str(row["forecaster"]), str(row["horizon"]), *(score(row.get(c)) for c in ("crps", "crps_log1p")),
                      percent(row.get("coverage90")), "-" if row.get("n") is None else str(row["n"]))
    emit(data, as_json, table)
    if data["status"] != "succeeded":
        console.print(f"[red]backtest {data['status']}: {data.get('error')}[/red]")
        raise typer.Exit(1)


def score(value: float | None) -> str:
    """Return a score (CRPS) with three significant digits, or "-" when missing."""
    return "-" if value is None else f"{value:.3g}"


def register(app: typer.Typer) -> None:
    """Add the model commands to the `fragility` CLI; returns nothing."""
    app.command("worker")(worker_command)
    app.command("fit")(fit_command)
    app.command("forecast")(forecast_command)
    app.command("probability")(probability_command)
    app.command("spillover")(spillover_command)
    app.command("backtest")(backtest_command)

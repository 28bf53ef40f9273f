"""CLI commands for models: worker, fit, forecast, spillover, backtest.

`worker` runs locally against FRAGILITY_DATABASE_URL. The others are clients of a running server
over HTTP (`--url` / FRAGILITY_URL, `--key` / FRAGILITY_KEY), so they work the same against a
laptop or a production deployment, and use exactly the code paths of the HTTP API.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.cli.common import DEFAULT_URL, JsonOption, KeyOption, UrlOption, console, emit, load_settings
from service.jobs.worker import run_worker_until_signalled
from service.schemas.scenario import check_scenario

FINAL = ("succeeded", "failed", "cancelled")


class ServerClient:
    """A small JSON client of the fragility server that turns error answers into a clean exit."""

    def __init__(self, url: str, key: str | None, http: httpx.Client | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = http if http is not None else httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)
        self.http.headers.update(headers)

    def call(self, method: str, path: str, **kwargs) -> Any:
        """Return the decoded JSON answer; on an error answer print detail and hint and exit 1."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            console.print(f"[red]cannot reach {self.http.base_url}: {exc}[/red] (set --url or FRAGILITY_URL)")
            raise typer.Exit(2) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text}
            console.print(f"[red]{response.status_code} {body.get('error', '')}: {body.get('detail', '')}[/red]")
            for problem in body.get("errors") or []:
                where = problem.get("field") or "request"
                row = f"row {problem['row']}, " if problem.get("row") is not None else ""
                console.print(f"  {row}{where}: {problem.get('reason', 'invalid')}")
            if body.get("hint"):
                console.print(f"hint: {body['hint']}")
            raise typer.Exit(1)
        return response.json()


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
            progress.update(task, description=f"{label}: {job['status']} (attempt {job['attempts']})")
            time.sleep(poll)
            job = client.call("GET", f"/v1/jobs/{job_id}")
    return job


def worker_command(
    poll: Annotated[float, typer.Option(help="seconds between polls of an empty queue")] = 1.0,
) -> None:
    """Run one job worker (claims fit, forecast and backtest jobs) until Ctrl-C or SIGTERM."""
    settings = load_settings()
    console.print(f"worker on {settings.database_url.split('@')[-1]}")
    run_worker_until_signalled(settings, poll_seconds=poll)


def fit_command(
    model: str, url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False,
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
        console.print(f"job {job['id']} {job['status']} after {job.get('seconds')} s; version {job.get('version')}"
                      f"{'; promoted' if result.get('promoted') else ''}")
        if gate and not gate.get("passed"):
            console.print("gate failed: " + "; ".join(gate.get("reasons", [])))
        if job.get("error"):
            console.print(f"[red]{job['error']}[/red]")
    if job["status"] == "failed":
        raise typer.Exit(1)


def forecast_command(
    model: str,
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
    levels = list(data["steps"][0]["quantiles"]) if data["steps"] else []
    table = Table(title=f"{data['model']} v{data['version']} {data['indicator']} in {data['region']}")
    for column in ("period", "mean", *levels):
        table.add_column(column, justify="right")
    for step in data["steps"]:
        table.add_row(step["period"], f"{step['mean']:.2f}", *(f"{step['quantiles'][q]:.1f}" for q in levels))
    table.caption = covariates_caption(data)
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
    model: str,
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
    table = Table(title=f"{source} -> {target}, >= {threshold:g} within {horizon} months ({data['normalise']} weights)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("90% credible interval", justify="right")
    table.add_column("Monte Carlo error", justify="right")
    errors = data.get("mc_standard_error") or {}
    for name, key in (("probability", "probability"), ("without source", "probability_without_source"),
                      ("attributable", "attributable"), ("channel share", "channel_share")):
        value, interval = data.get(key), data.get(f"{key}_interval")
        table.add_row(name, "-" if value is None else f"{value:.3f}",
                      f"[{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "-",
                      f"+-{errors[key]:.3f}" if errors.get(key) is not None else "-")
    table.caption = data.get("interval_method")
    emit(data, as_json, table)


def backtest_command(
    model: str,
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
    for column in ("forecaster", "horizon", "crps", "crps_log1p", "coverage90", "n"):
        table.add_column(column, justify="right")
    for row in data["scores"]:
        table.add_row(*(("-" if row.get(c) is None else f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]))
                        for c in ("forecaster", "horizon", "crps", "crps_log1p", "coverage90", "n")))
    emit(data, as_json, table)
    if data["status"] != "succeeded":
        console.print(f"[red]backtest {data['status']}: {data.get('error')}[/red]")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the model commands to the `fragility` CLI; returns nothing."""
    app.command("worker")(worker_command)
    app.command("fit")(fit_command)
    app.command("forecast")(forecast_command)
    app.command("spillover")(spillover_command)
    app.command("backtest")(backtest_command)

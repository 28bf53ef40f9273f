"""`fragility demo`: a Middle East conflict-deaths model, fitted and served, in a few minutes.

Steps (each through the same code the service uses): migrate the database; store the 25 bundled
demo regions (land borders) and the indicator `conflict_deaths`; store a synthetic monthly
history whose Iran series is partly driven by Iraq's (a strong Iraq -> Iran channel, made with
`indicators.simulate_count_panel` on the demo graph); create the count model `middle-east`;
queue a fit job and run it with the service's worker (gate, promotion, stored forecast paths);
ask the served version one spillover question, Iraq -> Iran; print the page URL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated

import numpy as np
import typer

from indicators import add_months, current_month, load_demo_regions, simulate_count_panel, suggested_thresholds
from indicators.errors import FragilityError
from service.cli.common import EXIT_INPUT, exit_code_of, fail, load_settings
from service.cli.data import serve as serve_command
from service.crud.indicators import upsert_indicators
from service.crud.jobs import enqueue_job, get_job
from service.crud.models import create_model, model_by_name, update_model
from service.crud.observations import ingest_rows
from service.crud.regions import upsert_regions
from service.crud.versions import version_by_number
from service.db.engine import Database, run_migrations
from service.errors import ModelNotFound, hint_for
from service.jobs.worker import Worker
from service.schemas.models import ModelIn
from service.serving.artifacts import redacted, settings_store
from service.serving.path_cache import PathCache, fit_of, resolve, spillover_from_paths
from service.settings import GateThresholds, Settings

MODEL_NAME = "middle-east"
INDICATOR = {"id": "conflict_deaths", "kind": "count", "unit": "deaths per month",
             "description": "Synthetic monthly conflict deaths (demo data, not real events)"}
SOURCE, TARGET, HORIZON = "IRQ", "IRN", 6
DEMO_GATE = GateThresholds(max_rhat=1.05, min_ess_bulk=200, max_divergences=5)
"""The demo's short fit is judged by this gate unless FRAGILITY_GATE__* are set (see run_demo)."""


@dataclass
class DemoResult:
    """What the demo did: the model, its fitted version and gate verdict, the spillover answer and the URL."""

    model: str
    version: int | None
    promoted: bool
    gate: dict
    diagnostics: dict
    fit_seconds: float
    spillover: dict | None
    url: str
    total_seconds: float

    def to_dict(self) -> dict:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


def demo_truth_overrides(regions: list[dict], seed: int) -> dict[str, np.ndarray]:
    """Return per-region (a, lam, phi, alpha) for the demo: population draws, Iraq and Syria hot,
    Iran quiet on its own but strongly fed by its neighbours (so Iraq's channel shows)."""
    _, drawn = simulate_count_panel(graph=regions, n_periods=24, seed=seed, indicator="conflict_deaths",
                                    start="2000-01")
    ids = [r["id"] for r in regions]
    a, lam, phi, alpha = (np.array(getattr(drawn, k), dtype=float) for k in ("a", "lam", "phi", "alpha"))
    # (a, lam, phi, alpha): Iraq persistent and bursty, Iran calm on its own but open to its neighbours
    hot = {"IRQ": (2.5, 0.75, 0.05, 2.0), "SYR": (2.6, 0.55, 0.05, 3.0), "YEM": (2.4, 0.5, 0.03, 4.0),
           "AFG": (2.2, 0.45, 0.05, 4.0), "IRN": (0.3, 0.30, 0.50, 10.0)}
    for region, (a_r, lam_r, phi_r, alpha_r) in hot.items():
        if region in ids:
            i = ids.index(region)
            a[i], lam[i], phi[i], alpha[i] = a_r, lam_r, phi_r, alpha_r
    return {"a": a, "lam": lam, "phi": phi, "alpha": alpha}


def demo_rows(regions: list[dict], *, n_periods: int, seed: int, end: str) -> list[dict]:
    """Return the demo history as observation rows (region, indicator, period, value) ending at `end`."""
    start = add_months(end, 1 - n_periods)
    panel, _ = simulate_count_panel(graph=regions, n_periods=n_periods, seed=seed, indicator=INDICATOR["id"],
                                    start=start, **demo_truth_overrides(regions, seed))
    return [{"region": row.region, "indicator": row.indicator, "period": row.period, "value": float(row.value)}
            for row in panel.to_frame().itertuples()]


def demo_threshold(rows: list[dict], region: str) -> int:
    """Return a threshold worth asking about: the API's suggested threshold at the 75th percentile of the
    region's last 24 months (`indicators.suggested_thresholds`, as `GET /v1/series/thresholds` gives it)."""
    values = [r["value"] for r in rows if r["region"] == region]
    return int(suggested_thresholds(values, kind=INDICATOR["kind"], levels=(0.75,), months=24)[0].threshold)


def store_model(session, config: dict) -> None:
    """Create the demo model, or bring an existing one to `config`; returns nothing."""
    try:
        model_by_name(session, config["name"])
    except ModelNotFound:
        create_model(session, data=config)
        return
    update_model(session, name=config["name"], changes={k: v for k, v in config.items() if k != "name"})


def run_fit_job(database: Database, settings: Settings, *, echo: Callable[[str], None],
                timeout_seconds: float = 900, report_every: float = 15.0) -> dict:
    """Queue a fit of the demo model, run it with a service worker, and return the ended job's result.

    The worker runs in a thread while this one reports the job's status every `report_every` s.
    Raises FragilityError if the job has not ended after `timeout_seconds`.
    """
    with database.session() as session:
        model = model_by_name(session, MODEL_NAME)
        job_id = enqueue_job(session, kind="fit", model=model, max_attempts=settings.job_max_attempts)
    worker = Worker(database, settings, name=f"demo-{job_id}")
    began = last_report = time.monotonic()
    runner: threading.Thread | None = None
    try:
        while time.monotonic() - began < timeout_seconds:
            with database.session() as session:
                job = get_job(session, job_id=job_id)
                status, attempts = job.status, job.attempts
                if status in ("succeeded", "failed", "cancelled"):
                    return {"id": job.id, "status": status, "error": job.error, "result": job.result or {}}
            if runner is None or not runner.is_alive():
                # claims the next runnable job: ours, unless a running server's worker already holds it
                runner = threading.Thread(target=worker.run_once, name="demo-worker", daemon=True)
                runner.start()
            if time.monotonic() - last_report >= report_every:
                echo(f"demo: fit job {job_id} {status} (attempt {attempts}), {time.monotonic() - began:.0f} s")
                last_report = time.monotonic()
            time.sleep(1.0)
    finally:
        if runner is not None:
            runner.join(timeout=5)
        worker.close()
    raise FragilityError(f"the demo fit (job {job_id}) did not end within {timeout_seconds:.0f} s",
                         hint="Look at the job with GET /v1/jobs/{id}, or run the demo with smaller --draws.")


def ask_spillover(database: Database, settings: Settings, threshold: int) -> dict:
    """Return the spillover answer Iraq -> Iran of the served version, read as the HTTP route reads it."""
    cache = PathCache(settings_store(settings))
    with database.session() as session:
        served, stored = resolve(session, cache, MODEL_NAME)
        answer = spillover_from_paths(cache, served, stored, fit_of(session, cache, served), source=SOURCE,
                                      target=TARGET, threshold=threshold, horizon=HORIZON)
    return {k: answer[k] for k in ("probability", "probability_interval", "probability_without_source",
                                   "attributable", "attributable_interval", "channel_share", "mc_standard_error",
                                   "interval_method")} | {
        "source": SOURCE, "target": TARGET, "threshold": threshold, "unit": served.unit, "horizon": HORIZON,
        "version": served.number}


def page_url(settings: Settings, threshold: int) -> str:
    """Return the URL of the page showing the demo model, Iran, and the Iraq -> Iran question."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return (f"http://{host}:{settings.port}/?model={MODEL_NAME}&region={TARGET}&horizon={HORIZON}"
            f"&source={SOURCE}&target={TARGET}&threshold={threshold}")


def run_demo(settings: Settings, *, n_periods: int = 84, draws: int = 500, tune: int = 500, chains: int = 2,
             seed: int = 7, end: str | None = None, gate: GateThresholds | None = DEMO_GATE,
             echo: Callable[[str], None] = print) -> DemoResult:
    """Return the DemoResult after storing demo data, fitting `middle-east` and asking Iraq -> Iran.

    The history ends at `end` (default: last month). `gate` replaces the settings' gate for
    this one fit (None keeps `settings.gate`). Progress
    lines go to `echo`. Raises FragilityError (with a hint) when a step fails.
    """
    began = time.monotonic()
    if gate is not None:
        settings = settings.model_copy(update={"gate": gate})
    echo(f"demo: database {settings.database_url.split('@')[-1]}, artifacts {redacted(settings.artifacts)}")
    run_migrations(settings.database_url)
    database = Database(settings.database_url, settings.db)
    try:
        regions = load_demo_regions()
        rows = demo_rows(regions, n_periods=n_periods, seed=seed, end=end or add_months(current_month(), -1))
        with database.session() as session:
            upsert_regions(session=session, items=regions)
            upsert_indicators(session=session, items=[INDICATOR])
            stored = ingest_rows(session=session, rows=rows)
            session.commit()
            echo(f"demo: {len(regions)} regions, {len(rows)} monthly observations of {INDICATOR['id']} "
                 f"({stored.inserted} new, {stored.updated} revised)")
            config = ModelIn(name=MODEL_NAME, family="count", indicator=INDICATOR["id"], regions=[],
                             spillover=True, horizon=12,
                             sampler={"method": "nutpie", "draws": draws, "tune": tune, "chains": chains,
                                      "seed": seed}).model_dump()
            store_model(session, config)
        echo(f"demo: fitting {MODEL_NAME} (nutpie, {chains} chains x {tune}+{draws} draws) ...")
        fit_began = time.monotonic()
        job = run_fit_job(database, settings, echo=echo)
        fit_seconds = time.monotonic() - fit_began
        if job["status"] != "succeeded":
            raise FragilityError(f"the demo fit failed: {job['error']}",
                                 hint="Run `fragility worker` to see the full error, or try a different --seed.")
        result = job["result"]
        with database.session() as session:
            version = version_by_number(session, model_by_name(session, MODEL_NAME).id, result.get("version"))
            diagnostics = dict(version.diagnostics)
        threshold = demo_threshold(rows, TARGET)
        answer = ask_spillover(database, settings, threshold) if result.get("promoted") else None
        return DemoResult(model=MODEL_NAME, version=result.get("version"), promoted=bool(result.get("promoted")),
                          gate=result.get("gate", {}), diagnostics=diagnostics, fit_seconds=round(fit_seconds, 1),
                          spillover=answer, url=page_url(settings, threshold),
                          total_seconds=round(time.monotonic() - began, 1))
    finally:
        database.dispose()


def describe(result: DemoResult) -> str:
    """Return the demo's human-readable summary: verdict, the spillover answer and the page URL."""
    d = result.diagnostics
    lines = [f"{result.model} v{result.version}: fitted in {result.fit_seconds:.0f} s "
             f"(R-hat max {d.get('rhat_max', float('nan')):.3f}, "
             f"bulk ESS min {d.get('ess_bulk_min', float('nan')):.0f}, "
             f"{d.get('divergences', '?')} divergences); gate "
             f"{'passed, serving' if result.promoted else 'failed: ' + '; '.join(result.gate.get('reasons', []))}"]
    s = result.spillover
    if s:
        low, high = s["attributable_interval"]
        mc_error = s["mc_standard_error"]["attributable"]
        lines.append(
            f"P(Iran >= {s['threshold']} conflict deaths in some month of the next {s['horizon']}) = "
            f"{s['probability']:.1%}; without Iraq's channel {s['probability_without_source']:.1%}; "
            f"attributable to Iraq {100 * s['attributable']:+.1f} points (90% credible interval {100 * low:+.1f} "
            f"to {100 * high:+.1f}; Monte Carlo error +-{100 * mc_error:.1f}); Iraq's share of Iran's expected "
            f"level {s['channel_share']:.1%}")
    lines.append(f"page: {result.url}")
    lines.append("      (start the server with `fragility serve` if it is not running)")
    lines.append(f"demo finished in {result.total_seconds:.0f} s")
    return "\n".join(lines)


def demo_command(
    draws: Annotated[int, typer.Option(help="posterior draws per chain")] = 500,
    tune: Annotated[int, typer.Option(help="tuning steps per chain")] = 500,
    chains: Annotated[int, typer.Option(help="chains")] = 2,
    periods: Annotated[int, typer.Option(help="months of synthetic history")] = 84,
    seed: Annotated[int, typer.Option(help="seed of the synthetic history and the sampler")] = 7,
    strict_gate: Annotated[bool, typer.Option("--strict-gate", help="judge the fit by FRAGILITY_GATE__* "
                                              "(default: the demo gate)")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="start the server when the demo is done")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Load the Middle East demo, fit the count model, print one spillover answer and the page URL."""
    settings = load_settings()
    quiet = (lambda _message: None) if as_json else (lambda message: typer.echo(message, err=True))
    try:
        result = run_demo(settings, n_periods=periods, draws=draws, tune=tune, chains=chains, seed=seed,
                          gate=None if strict_gate else DEMO_GATE, echo=quiet)
    except FragilityError as exc:
        raise fail(exc.message, hint_for(exc), exit_code_of(exc)) from exc
    typer.echo(json.dumps(result.to_dict(), indent=2) if as_json else describe(result))
    if not as_json and not settings.public_read:
        typer.echo("      (reads need a key here: run `fragility keys create --scope read` and paste the key into the "
                   "page's Read key field, or set FRAGILITY_PUBLIC_READ=1 before `fragility serve`)")
    if not result.promoted:
        raise fail("the demo fit did not pass the gate, so nothing is served",
                   "Run again with more --draws (or without --strict-gate).", EXIT_INPUT)
    if serve:
        serve_command(host=None, port=None, demo=False, no_worker=False)


def register(app: typer.Typer) -> None:
    """Add the demo command to the `fragility` CLI; returns nothing."""
    app.command("demo")(demo_command)


if __name__ == "__main__":  # `python -m service.cli.demo [OPTIONS]`: the same as `fragility demo`
    typer.run(demo_command)

"""`fragility demo`: a Middle East conflict-deaths model, fitted and served, in a few minutes.

Steps (each through the same code the service uses): migrate the database; store the 25 bundled
demo regions (land borders) and the indicator `conflict_deaths`; store a synthetic monthly
history whose Iran series is partly driven by Iraq's (a strong Iraq -> Iran channel, made with
`indicators.simulate_count_panel` on the demo graph); create the count model `middle-east`;
queue a fit job and run it with the service's worker (gate, promotion, stored forecast paths);
ask the served version one spillover question, Iraq -> Iran; print the page URL. The demo's data and question
are `demo_data`; what a run reports (its result, the summary, the question warmed on the server) is `demo_report`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from service.cli.common import EXIT_INPUT, exit_code_of, fail, load_settings
from service.cli.demo_data import HORIZON, INDICATOR, MODEL_NAME, SOURCE, TARGET, demo_rows, demo_threshold
from service.cli.demo_report import DemoResult, describe, warm_first_question
from service.cli.formatting import gate_text

if TYPE_CHECKING:  # the heavy imports happen when the demo runs, not when `fragility --help` starts
    from service.db.engine import Database
    from service.settings import GateThresholds, Settings

DEMO_GATE_LIMITS = {"max_rhat": 1.05, "min_ess_bulk": 200, "max_divergences": 5, "name": "demo gate"}
"""The demo's short fit is judged by this gate unless --strict-gate (see run_demo); versions record it by name."""


def demo_gate() -> GateThresholds:
    """Return the demo gate (DEMO_GATE_LIMITS) as the settings' gate type."""
    from service.settings import GateThresholds

    return GateThresholds(**DEMO_GATE_LIMITS)


def store_model(session, config: dict) -> None:
    """Create the demo model, or bring an existing one to `config`; returns nothing."""
    from service.crud.models import create_model, model_by_name, update_model
    from service.errors import ModelNotFound

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
    from indicators import FragilityError
    from service.crud.jobs import enqueue_job, get_job
    from service.crud.models import model_by_name
    from service.jobs.worker import Worker

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
    from service.serving.artifacts import settings_store
    from service.serving.cached_source import spillover_from_paths
    from service.serving.path_cache import PathCache, fit_of, resolve

    cache = PathCache(settings_store(settings))
    with database.session() as session:
        served, stored = resolve(session, cache, MODEL_NAME)
        answer = spillover_from_paths(cache, served, stored, fit_of(session, cache, served), source=SOURCE,
                                      target=TARGET, threshold=threshold, horizon=HORIZON).to_dict()
    return {k: answer[k] for k in ("probability", "probability_interval", "probability_without_source",
                                   "attributable", "attributable_interval", "channel_probability", "channel_min_effect",
                                   "channel_share", "mc_standard_error", "interval_method")} | {
        "source": SOURCE, "target": TARGET, "threshold": threshold, "unit": served.unit, "horizon": HORIZON,
        "version": served.number}


def page_url(settings: Settings, threshold: int) -> str:
    """Return the URL of the page showing the demo model, Iran, and the Iraq -> Iran question."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return (f"http://{host}:{settings.port}/?model={MODEL_NAME}&region={TARGET}&horizon={HORIZON}"
            f"&source={SOURCE}&target={TARGET}&threshold={threshold}")


def run_demo(settings: Settings, *, n_periods: int = 84, draws: int = 500, tune: int = 500, chains: int = 2,
             seed: int = 7, end: str | None = None, gate: GateThresholds | Literal["demo"] | None = "demo",
             reuse: bool = True, ask: bool = True, echo: Callable[[str], None] = print) -> DemoResult:
    """Return the DemoResult after storing demo data, fitting `middle-east` and asking Iraq -> Iran.

    The history ends at `end` (default: last month). `gate` replaces the settings' gate for this one fit
    ("demo": the demo gate; None keeps `settings.gate`). With `reuse`, a served version fitted to the same data
    with the same model configuration, which passes `gate`, is served again instead of fitting (see
    `reusable_version`). Without `ask` the spillover question is left to the server (`demo --serve` asks it
    there, so its first answer is computed once). Progress lines go to `echo`. Raises FragilityError (with a
    hint) when a step fails.
    """
    from indicators import FragilityError, add_months, current_month, load_demo_regions
    from service.crud.indicators import upsert_indicators
    from service.crud.models import model_by_name
    from service.crud.observations import ingest_rows
    from service.crud.regions import upsert_regions
    from service.crud.versions import version_by_number
    from service.db.engine import Database, run_migrations
    from service.schemas.models import ModelIn
    from service.serving.artifacts import redacted

    began = time.monotonic()
    if gate is not None:
        settings = settings.model_copy(update={"gate": demo_gate() if gate == "demo" else gate})
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
            session.commit()
        reused = reusable_version(database, settings) if reuse else None
        fit_began = time.monotonic()
        if reused is not None:
            number, why = reused
            echo(f"demo: serving {MODEL_NAME} v{number} again: {why} (`fragility demo --refit` fits anew)")
            result = {"version": number, "promoted": True, "gate": {"passed": True, "reasons": []}}
        else:
            echo(f"demo: fitting {MODEL_NAME} (nutpie, {chains} chains x {tune} tuning + {draws} draws; a machine's "
                 "first fit also compiles the model: 3.7 min measured on 2 busy cores, about 1 min once compiled) ...")
            job = run_fit_job(database, settings, echo=echo)
            if job["status"] != "succeeded":
                raise FragilityError(f"the demo fit failed: {job['error']}",
                                     hint="Run `fragility worker` to see the full error, or try a different --seed.")
            result = job["result"]
        fit_seconds = time.monotonic() - fit_began
        with database.session() as session:
            version = version_by_number(session, model_by_name(session, MODEL_NAME).id, result.get("version"))
            diagnostics = dict(version.diagnostics)
        threshold = demo_threshold(rows, TARGET)
        answer = ask_spillover(database, settings, threshold) if ask and result.get("promoted") else None
        return DemoResult(model=MODEL_NAME, version=result.get("version"), promoted=bool(result.get("promoted")),
                          gate=result.get("gate", {}), diagnostics=diagnostics, fit_seconds=round(fit_seconds, 1),
                          spillover=answer, url=page_url(settings, threshold),
                          total_seconds=round(time.monotonic() - began, 1), threshold=threshold,
                          reused=reused[1] if reused is not None else None)
    finally:
        database.dispose()


def reusable_version(database: Database, settings: Settings) -> tuple[int, str] | None:
    """Return (number, why) of the demo model's served version when fitting again would fit the same thing, else None.

    "Unchanged" is decided as a scheduled refit decides it (service.jobs.handlers.run_fit): the served version's
    data hash equals the hash of the panel a fit would read now (every stored observation of the indicator in the
    model's regions, so data ingested since then counts), and its spec hash equals the model's configuration now
    (family, indicator, regions, spillover, horizon, sampler draws/tune/chains/seed). The version must also pass
    the gate in use (`settings.gate`), so `--strict-gate` never serves a version that only passed the demo gate.
    """
    from indicators import Panel
    from service.crud.models import load_fit_inputs, model_by_name, model_config, spec_hash
    from service.crud.versions import last_promoted

    with database.session() as session:
        model = model_by_name(session, MODEL_NAME)
        served = last_promoted(session, model.id)
        if served is None or not served.paths_file:
            return None
        config = model_config(model)
        if served.spec_hash != spec_hash(config):
            return None
        frame, regions = load_fit_inputs(session, config=config)
        # the panel a fit reads, as service.jobs.tasks.build_panel makes it (without importing the models)
        if Panel.from_frame(frame, regions=regions, normalise=config["normalise"]).content_hash() != served.data_hash:
            return None
        d, limits = served.diagnostics or {}, settings.gate
        passes = (d.get("rhat_max", float("inf")) <= limits.max_rhat
                  and d.get("ess_bulk_min", 0) >= limits.min_ess_bulk
                  and d.get("divergences", limits.max_divergences + 1) <= limits.max_divergences)
        if not passes:
            return None
        return served.number, (f"the same data (hash {served.data_hash[:12]}) and model configuration as when it "
                               f"was fitted, and it passes the {limits.name} ({gate_text(limits.model_dump())})")


def demo_command(
    draws: Annotated[int, typer.Option(help="posterior draws per chain")] = 500,
    tune: Annotated[int, typer.Option(help="tuning steps per chain")] = 500,
    chains: Annotated[int, typer.Option(help="chains")] = 2,
    periods: Annotated[int, typer.Option(help="months of synthetic history")] = 84,
    seed: Annotated[int, typer.Option(help="seed of the synthetic history and the sampler")] = 7,
    strict_gate: Annotated[bool, typer.Option("--strict-gate", help="judge the fit by FRAGILITY_GATE__* "
                                              "(default: the demo gate)")] = False,
    refit: Annotated[bool, typer.Option("--refit", help="fit a new version even when the served one was fitted "
                                        "to the same data and configuration")] = False,
    serve: Annotated[bool, typer.Option("--serve", help="start the server when the demo is done")] = False,
    port: Annotated[int | None, typer.Option(help="port to serve on with --serve (default FRAGILITY_PORT, "
                                             "8000)")] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="with --serve, log every "
                                             "request as a JSON line (default: off for the demo)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Load the Middle East demo, fit the count model (or reuse the served fit of the same data), print one
    spillover answer and the page URL; with --serve, serve it and warm that question before saying "ready"."""
    from indicators import FragilityError
    from service.cli.data import check_port_free
    from service.cli.data import serve as serve_command
    from service.errors import hint_for

    settings = load_settings()
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    if serve:  # before the minutes of demo work: a busy port is found at once
        check_port_free(settings.host, settings.port)
    quiet = (lambda _message: None) if as_json else (lambda message: typer.echo(message, err=True))
    warm_on_server = serve and settings.public_read and not as_json  # else the demo asks it itself
    try:
        result = run_demo(settings, n_periods=periods, draws=draws, tune=tune, chains=chains, seed=seed,
                          gate=None if strict_gate else "demo", reuse=not refit, ask=not warm_on_server, echo=quiet)
    except FragilityError as exc:
        raise fail(exc.message, hint_for(exc), exit_code_of(exc)) from exc
    typer.echo(json.dumps(result.to_dict(), indent=2) if as_json else describe(result))
    if not as_json and not serve:
        typer.echo("      (start the server with `fragility serve`: it serves this version at once)")
    if not as_json and not settings.public_read:
        typer.echo("      (reads need a key here: run `fragility keys create --scope read` and paste the key into the "
                   "page's Read key field, or set FRAGILITY_PUBLIC_READ=1 before `fragility serve`)")
    if not result.promoted:
        raise fail("the demo fit did not pass the gate, so nothing is served",
                   "Run again with more --draws (or without --strict-gate).", EXIT_INPUT)
    if serve:
        if warm_on_server:
            host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
            threading.Thread(target=warm_first_question, name="demo-warm", daemon=True,
                             args=(f"http://{host}:{settings.port}", result.threshold),
                             kwargs={"echo": quiet, "page": result.url}).start()
        serve_command(host=None, port=settings.port, demo=False, no_worker=False, access_log=access_log)


def register(app: typer.Typer) -> None:
    """Add the demo command to the `fragility` CLI; returns nothing."""
    app.command("demo")(demo_command)


if __name__ == "__main__":  # `python -m service.cli.demo [OPTIONS]`: the same as `fragility demo`
    typer.run(demo_command)

"""Serving routes: forecast, exceedance probability and spillover, read from cached paths (no sampling), and the
stored paths themselves."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from indicators.errors import InputError
from service.api.authentication import client_identity
from service.api.deps import ReadKey, SessionDep
from service.api.session_route import SessionRoute, release
from service.auth import Principal
from service.crud.versions import mark_broken
from service.errors import ArtifactBroken, VersionBroken
from service.executors import question_executor
from service.schemas.data import error_responses
from service.schemas.models import ForecastOut, ProbabilityIn, ProbabilityOut, SpilloverIn, SpilloverOut
from service.serving.artifacts import settings_store
from service.serving.export_cache import PathExports, export_pieces
from service.serving.path_cache import PathCache, resolve
from service.serving.path_export import MEDIA_TYPES, chosen_regions
from service.serving.question_process import QuestionAbandoned, question_key
from service.serving.questions import QuestionPool
from service.serving.registry import ServedVersion

router = APIRouter(route_class=SessionRoute, prefix="/v1/models", tags=["forecasts"],
                   responses=error_responses(409))
DEFAULT_QUANTILES = (0.05, 0.5, 0.95)
LEVEL = r"(0|1|0?\.[0-9]+|0\.|1\.0*)"
QUANTILES_PATTERN = rf"^ *{LEVEL}( *, *{LEVEL})* *$"


async def get_path_cache(request: Request) -> PathCache:
    """Return the app's path cache (made on first use, rooted at the settings' artifact directory).

    `async` on purpose: it never blocks, so it costs no threadpool hop on the hot forecast path.
    """
    cache = getattr(request.app.state, "path_cache", None)
    if cache is None:
        settings = request.app.state.settings
        cache = request.app.state.path_cache = PathCache(settings_store(settings), settings.cache_bytes)
    return cache


PathCacheDep = Annotated[PathCache, Depends(get_path_cache)]


async def get_path_exports(request: Request) -> PathExports:
    """Return the app's paths exports (made on first use, on the settings' artifact store and export cap)."""
    exports = getattr(request.app.state, "path_exports", None)
    if exports is None:
        settings = request.app.state.settings
        exports = request.app.state.path_exports = PathExports(settings_store(settings),
                                                               settings.max_concurrent_exports)
    return exports


PathExportsDep = Annotated[PathExports, Depends(get_path_exports)]


class EndingResponse(StreamingResponse):
    """A streamed response that calls `end` once it is sent, or its client left (an export's slot is freed)."""

    def __init__(self, content: Iterator[bytes], end: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.end = end

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.end()


def check_horizon(version: ServedVersion, horizon: int) -> None:
    """Return nothing if `horizon` is within the version's stored paths; raises InputError otherwise."""
    if horizon < 1 or horizon > version.paths_horizon:
        raise InputError(
            f"horizon {horizon} is beyond the stored paths of {version.model} v{version.number} "
            f"(1..{version.paths_horizon} months)",
            hint="Ask for a shorter horizon, or raise the model's `horizon` and refit.",
        )


def parse_quantiles(values: list[str] | None) -> tuple[float, ...]:
    """Return the quantile levels from `?quantiles=0.05,0.5` or repeated `?quantiles=`; raises InputError."""
    if not values:
        return DEFAULT_QUANTILES
    try:
        levels = tuple(float(part) for value in values for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise InputError(f"quantiles must be numbers in [0, 1], got {values}") from exc
    if not levels or any(not 0 <= q <= 1 for q in levels):
        raise InputError(f"quantiles must be numbers in [0, 1], got {values}")
    return levels


def forecast_body(session, cache: PathCache, name: str, number: int | None, region: str, horizon: int,
                  levels: tuple[float, ...]) -> bytes:
    """Return the encoded forecast answer (computed once per version and question, then cached)."""
    served, stored = resolve(session, cache, name, number)
    release(session)  # the answer is computed from the cached paths, without a connection
    check_horizon(served, horizon)

    def answer() -> bytes:
        window = stored.first_steps(horizon)
        table, means = window.quantiles(region, list(levels)), window.mean(region)
        steps = [
            {"period": row["period"], "mean": float(means[i]),
             "quantiles": {str(q): float(row[str(q)]) for q in levels}}
            for i, row in enumerate(table.to_dict("records"))
        ]
        return json.dumps({"model": name, "version": served.number, "region": region, "indicator": served.indicator,
                           "unit": served.unit, "normalise": served.normalise,
                           "covariates_mode": stored.covariates_mode, "covariates": stored.covariates_detail,
                           "draws": int(stored.paths.shape[0]), "steps": steps}, separators=(",", ":")).encode()

    return cache.get(("forecast", served.version_id, region, horizon, levels), answer)


@router.get("/{name}/forecast", response_model=ForecastOut)
async def forecast(
    name: str,
    session: SessionDep,
    cache: PathCacheDep,
    _: ReadKey,
    region: str,
    horizon: Annotated[int, Query(ge=1)],
    quantiles: Annotated[list[Annotated[str, Field(pattern=QUANTILES_PATTERN)]] | None, Query(description=(
        "levels in [0, 1], comma-separated or repeated (default 0.05,0.5,0.95)"))] = None,
    version: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """Return the mean and quantiles per month of one region's forecast from the served (or asked) version.

    A question already answered for the served version is answered from memory without a thread hop;
    anything else (database, files) runs in the threadpool.
    """
    levels = parse_quantiles(quantiles)
    served = cache.remembered(name, version)
    body = cache.peek(("forecast", served.version_id, region, horizon, levels)) if served is not None else None
    if body is None:
        body = await run_in_threadpool(forecast_body, session, cache, name, version, region, horizon, levels)
    return Response(content=body, media_type="application/json")


QUESTION_POOL_LOCK = threading.Lock()


def question_pool(app: FastAPI) -> QuestionPool:
    """Return the app's pool of expensive questions (made on first use from the settings: processes of their
    own by default, see service.executors.question_executor; the app's path cache made too if need be)."""
    with QUESTION_POOL_LOCK:
        pool = getattr(app.state, "question_pool", None)
        if pool is None:
            settings = app.state.settings
            cache = getattr(app.state, "path_cache", None)
            if cache is None:
                cache = app.state.path_cache = PathCache(settings_store(settings), settings.cache_bytes)
            pool = app.state.question_pool = QuestionPool(
                settings.question_workers, settings.max_waiting_questions, settings.max_questions_per_key,
                question_executor(settings, cache))
        return pool


def start_question_pool(app: FastAPI) -> None:
    """Make the app's question pool and start its processes now (`fragility serve`: their imports take up to a
    minute on busy cores, which the first questions would otherwise wait for); returns nothing."""
    question_pool(app).warm()


def caller_of(request: Request, principal: Principal) -> str:
    """Return who a question counts against: the API key, or an anonymous reader's address."""
    if principal.key_id is not None:
        return f"key:{principal.key_id}"
    return client_identity(request)


def mark_version_broken(request: Request, cache: PathCache, served: ServedVersion, exc: ArtifactBroken) -> None:
    """Mark `served` broken after a question found its paths or posterior unusable, so the version before it
    serves; returns nothing."""
    with request.app.state.db.session() as session:
        mark_broken(session, version_id=served.version_id, reason=exc.message)
        session.commit()
    cache.forget_version(served.version_id)


async def answer_question(request: Request, session, cache: PathCache, principal: Principal, name: str,
                          number: int | None, kind: str, question: dict) -> Response:
    """Return the answer to one expensive `kind` question ("probability" or "spillover", its fields in
    `question`): from the cache if it was asked before, else computed in the question pool
    (service.serving.questions: 429 past the caps, abandoned if the client leaves; the answer is computed by
    service.serving.question_process.answer, then cached here as bytes).
    """
    def look_up() -> ServedVersion:
        served, _ = resolve(session, cache, name, number)
        release(session)
        return served

    served = cache.remembered(name, number)
    if served is None:
        served = await run_in_threadpool(look_up)
    check_horizon(served, question["horizon"])
    key = question_key(kind, served, question)
    body = cache.peek(key)
    if body is not None:
        return Response(content=body, media_type="application/json")
    try:
        body = await question_pool(request.app).ask(
            request, caller_of(request, principal), kind, served, question, name,
            keep=lambda value: cache.get(key, lambda: value))
    except QuestionAbandoned:
        return Response(status_code=499)  # nobody reads it: the client is gone
    except ArtifactBroken as exc:
        await run_in_threadpool(mark_version_broken, request, cache, served, exc)
        raise VersionBroken(f"version {served.number} of {name!r} is broken: {exc.message}") from exc
    return Response(content=body, media_type="application/json")


@router.post("/{name}/probability", response_model=ProbabilityOut, responses=error_responses(429))
async def probability(name: str, body: ProbabilityIn, request: Request, session: SessionDep, cache: PathCacheDep,
                      principal: ReadKey) -> Response:
    """Return P(region >= threshold in some month 1..horizon) (or per month): the predictive probability, its 90%
    credible interval (posterior uncertainty) and its Monte Carlo standard error; `interval_method` names them.

    A question not answered before is computed in the bounded question pool: 429 with Retry-After when the
    caller already has FRAGILITY_MAX_QUESTIONS_PER_KEY questions in progress or the server's queue is full.
    """
    question = {"region": body.region, "threshold": body.threshold, "horizon": body.horizon, "within": body.within}
    return await answer_question(request, session, cache, principal, name, body.version, "probability", question)


@router.post("/{name}/spillover", response_model=SpilloverOut, responses=error_responses(429))
async def spillover(name: str, body: SpilloverIn, request: Request, session: SessionDep, cache: PathCacheDep,
                    principal: ReadKey) -> Response:
    """Return P(target >= threshold within horizon) with and without the source's channel, and the difference.

    A question not answered before is computed in the bounded question pool: 429 with Retry-After when the
    caller already has FRAGILITY_MAX_QUESTIONS_PER_KEY questions in progress or the server's queue is full.
    """
    question = {"source": body.source, "target": body.target, "threshold": body.threshold, "horizon": body.horizon,
                "scenario": body.scenario}
    return await answer_question(request, session, cache, principal, name, body.version, "spillover", question)


@router.get("/{name}/paths", response_class=Response, responses={200: {"content": {
    "text/csv": {}, "application/vnd.apache.parquet": {}, "application/octet-stream": {}},
    "description": "the joint simulated paths as a file (see `format`)"}, **error_responses(429)})
def paths(
    name: str,
    session: SessionDep,
    cache: PathCacheDep,
    exports: PathExportsDep,
    _: ReadKey,
    regions: Annotated[str | None, Query(description="comma-separated region ids (default: all)")] = None,
    format: Annotated[Literal["csv", "parquet", "npz"], Query(description=(
        "csv or parquet: long table path, draw_group, period, region, value; npz: arrays paths[path, step, "
        "region], periods, regions, groups"))] = "csv",
    version: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    """Return the joint simulated paths of the served (or asked) version, every value exactly as stored, with the
    posterior draw group of each path when stored; headers name the model version and the number of paths.

    Streamed: every region's export is written once per version to the artifact store and sent from there, a
    subset of regions is written piece by piece as it is sent. 429 with Retry-After when
    FRAGILITY_MAX_CONCURRENT_EXPORTS exports are in progress.
    """
    served, stored = resolve(session, cache, name, version)
    release(session)
    chosen = chosen_regions(stored, regions)
    end = exports.admit()
    try:
        headers = {"Content-Disposition": f'attachment; filename="{name}-v{served.number}-paths.{format}"',
                   "X-Model-Version": str(served.number), "X-Paths": str(stored.paths.shape[0])}
        if chosen == list(stored.regions):
            key, size = exports.stored(served, stored, format)
            body = exports.read(key)
            headers["Content-Length"] = str(size)
        else:
            body = iter(export_pieces(stored, chosen, format))
        return EndingResponse(body, end, media_type=MEDIA_TYPES[format], headers=headers)
    except BaseException:
        end()
        raise

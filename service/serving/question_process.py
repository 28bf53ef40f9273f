"""The computing side of expensive questions (service.serving.questions): `answer` computes one probability or
spillover question of a served version as the encoded JSON answer.

It runs in a question process (by default: service.executors.question_process_started, its initializer, lowers
its priority and `configure`s it with a path cache of that process), so a simulation (numpy and Python code
holding its interpreter's lock for seconds) never holds the API process's GIL, and the event loop keeps
answering `/healthz` and `GET /v1/models` at once. With FRAGILITY_QUESTION_PROCESSES=0 it runs in threads of
the API process on the app's own path cache (`configure`).
Either way the asker's abandon flag (one byte per question slot, shared memory) is checked before each
simulation the question is made of: a question whose client left stops there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from service.schemas.models import ProbabilityOut, SpilloverOut
from service.serving.cached_source import probability_from_paths, spillover_from_paths
from service.serving.path_cache import PathCache
from service.serving.registry import ServedVersion

STATE: dict[str, Any] = {}
"""This process's abandon flags ("flags") and path cache ("cache"), set by `configure`."""


class QuestionAbandoned(Exception):  # a signal, not an error of the caller
    """The client that asked the question went away; the computation stops at its next checkpoint."""


def configure(flags, cache: PathCache) -> None:
    """Make `answer` read `flags` (a byte per question slot: 1 = abandoned) and `cache` in this process; returns
    nothing."""
    STATE["flags"], STATE["cache"] = flags, cache


def warm_up() -> None:
    """Do nothing: submitted once per worker to start the pool's processes (their initializer imports and sets
    up what questions need); returns nothing."""


def checkpoint(flags, slot: int) -> Callable[[], None]:
    """Return the checkpoint of question slot `slot` of `flags`: it raises QuestionAbandoned once the slot's flag
    is set."""

    def check() -> None:
        if flags[slot]:
            raise QuestionAbandoned

    return check


def question_key(kind: str, served: ServedVersion, question: dict) -> tuple:
    """Return the cache key of a `kind` ("probability" or "spillover") question of `served`."""
    if kind == "probability":
        return ("probability", served.version_id, question["region"], question["threshold"], question["horizon"],
                question["within"])
    return ("spillover", served.version_id, question["source"], question["target"], question["threshold"],
            question["horizon"], json.dumps(question.get("scenario"), sort_keys=True))


def answer(slot: int, kind: str, served: ServedVersion, question: dict, name: str,
           state: dict[str, Any] | None = None) -> bytes:
    """Return the encoded JSON answer (ProbabilityOut or SpilloverOut) to one `kind` question of `served` (model
    `name`), computed once per question in this process's cache; raises QuestionAbandoned when slot `slot` was
    abandoned before one of its simulations, ArtifactBroken for an unusable paths or posterior file, or the
    question's own error (InputError). `state` ({"flags", "cache"}): this process's `STATE` unless given (the
    API's own cache, when questions run in its threads)."""
    state = STATE if state is None else state
    check = checkpoint(state["flags"], slot)
    check()
    cache: PathCache = state["cache"]

    def compute() -> bytes:
        stored, fit = cache.forecast(served), cache.fit(served)
        labels = {"model": name, "version": served.number, "indicator": served.indicator, "unit": served.unit}
        if kind == "probability":
            result = probability_from_paths(cache, served, stored, fit, region=question["region"],
                                            threshold=question["threshold"], horizon=question["horizon"],
                                            within=question["within"], checkpoint=check)
            out: Any = ProbabilityOut.from_answer(result, **labels)
        else:
            result = spillover_from_paths(cache, served, stored, fit, source=question["source"],
                                          target=question["target"], threshold=question["threshold"],
                                          horizon=question["horizon"], scenario=question.get("scenario"),
                                          checkpoint=check)
            out = SpilloverOut.from_answer(result, **labels, scenario=question.get("scenario"))
        return out.model_dump_json(by_alias=True).encode()

    return cache.get(question_key(kind, served, question), compute)

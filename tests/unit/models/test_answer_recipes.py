"""One recipe per question: the library (fresh simulations from a Fit) and the service (its path cache) answer
through the same recipe, so the same forecasts give the same answer; the API shapes are the answers' fields."""

from __future__ import annotations

from dataclasses import fields

import pytest

from models import FitSource, ProbabilityAnswer, SpilloverAnswer, probability_of, spillover_of
from service.schemas.models import ProbabilityOut, SpilloverOut
from service.serving.cached_source import CachedSource, probability_from_paths, spillover_from_paths
from service.serving.path_cache import PathCache
from service.serving.registry import ServedVersion

HORIZON, DRAWS, SEED = 4, 400, 3
SERVED = {"model", "version", "indicator", "unit"}
"""What the service adds to an answer: the model and version asked, the indicator and its unit."""


def served_version(fit) -> ServedVersion:
    """Return a served view of a version whose stored paths are `fit`'s forecast with HORIZON, DRAWS and SEED."""
    return ServedVersion(model="m", model_id=1, indicator="attacks", version_id=1, number=1,
                         regions=tuple(fit.regions), last_period=fit.last_period, normalise=fit.spec.normalise,
                         posterior_file="", posterior_sha256="", paths_file=None, paths_sha256=None,
                         paths_horizon=HORIZON, paths_draws=DRAWS, paths_seed=SEED)


@pytest.fixture(scope="module")
def sources(loglinear_fit, tmp_path_factory):
    """Return (the library's source, the service's source) of one fit, the cache's stored paths being exactly
    the forecast the library simulates."""
    stored = loglinear_fit.forecast(horizon=HORIZON, draws=DRAWS, seed=SEED)
    cache = PathCache(tmp_path_factory.mktemp("artifacts"))
    return (FitSource(loglinear_fit, draws=DRAWS, seed=SEED),
            CachedSource(cache, served_version(loglinear_fit), stored, loglinear_fit))


def test_the_library_and_the_service_give_one_spillover_answer(loglinear_fit, sources):
    library, service = (spillover_of(source, source="R1", target="R3", threshold=12, horizon=HORIZON,
                                     scenario={"scale": 2}) for source in sources)
    assert isinstance(library, SpilloverAnswer) and library == service
    assert "exact crossing probabilities" in library.interval_method  # the event grid was read
    again = loglinear_fit.spillover("R1", "R3", threshold=12, horizon=HORIZON, draws=DRAWS, seed=SEED,
                                    scenario={"scale": 2})
    assert again == library and again.to_dict() == {f.name: getattr(library, f.name) for f in fields(library)}


def test_the_library_and_the_service_give_one_probability_answer(sources):
    for within in (True, False):
        library, service = (probability_of(source, region="R3", threshold=12, horizon=HORIZON, within=within)
                            for source in sources)
        assert isinstance(library, ProbabilityAnswer) and library == service, within


def test_the_service_functions_are_the_recipes_on_the_cache(loglinear_fit, sources):
    service = sources[1]
    args = (service.cache, service.version, service.stored, loglinear_fit)
    assert spillover_from_paths(*args, source="R1", target="R3", threshold=12, horizon=2) == spillover_of(
        service, source="R1", target="R3", threshold=12, horizon=2)
    assert probability_from_paths(*args, region="R3", threshold=12, horizon=2, within=True) == probability_of(
        service, region="R3", threshold=12, horizon=2)


@pytest.mark.parametrize(("shape", "answer", "not_shown"), [
    (SpilloverOut, SpilloverAnswer, {"draws", "seed"}),  # the stored paths' draws and seed: the version's own
    (ProbabilityOut, ProbabilityAnswer, {"periods"}),
])
def test_an_api_shape_has_exactly_its_answers_fields(shape, answer, not_shown):
    assert set(shape.model_fields) - SERVED == {f.name for f in fields(answer)} - not_shown


def test_an_api_shape_is_validated_from_the_answer_and_what_the_service_adds(sources):
    answer = spillover_of(sources[0], source="R1", target="R3", threshold=12, horizon=2)
    out = SpilloverOut.from_answer(answer, model="m", version=1, indicator="attacks", unit=None, scenario=None)
    dumped = out.model_dump()
    assert dumped["scenario"] is None and dumped["model"] == "m"
    assert all(dumped[k] == v for k, v in answer.to_dict().items() if k in dumped and k != "scenario")

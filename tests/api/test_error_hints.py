"""One error tree: drawn once (service/errors.py), `indicators` speaks no HTTP, the service adds its route hints."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import indicators
import models
import service
import service.errors
from indicators import Catalogue, validate_batch
from indicators.errors import BatchRejected, FragilityError, InputError, UnknownIndicator, UnknownRegion
from models.core.errors import ModelError, SpecError
from service.errors import NotFound, hint_for, hint_for_class, row_errors_of, status_for

REGIONS = {"regions": [{"id": "AAA", "name": "A", "neighbours": []}]}
INDICATORS = {"indicators": [{"id": "attacks", "kind": "count"}]}
REGION_HINT = "List regions with GET /v1/regions or add it with POST /v1/regions."
INDICATOR_HINT = "Add it with POST /v1/indicators first."


def test_indicators_sources_name_no_route_and_no_status():
    http_wording = re.compile(r"/v1|HTTP|\bPOST |\bGET |\b(?:4\d\d|5\d\d) ")
    package = Path(indicators.__file__).parent
    for source in package.rglob("*.py"):
        for number, line in enumerate(source.read_text().splitlines(), 1):
            assert not http_wording.search(line), f"{source.name}:{number}: {line}"


def every_error_class() -> set[type]:
    """Return every subclass of FragilityError defined in indicators, models and service (all modules imported)."""
    for package in (indicators, models, service):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".alembic" not in module.name:
                importlib.import_module(module.name)
    found, todo = set(), [FragilityError]
    while todo:
        for subclass in todo.pop().__subclasses__():
            if subclass.__module__.split(".")[0] in {"indicators", "models", "service"} and subclass not in found:
                found.add(subclass)
                todo.append(subclass)
    return found


def test_the_one_drawing_of_the_tree_names_every_error_class():
    drawing = service.errors.__doc__.split("FragilityError (indicators.errors)", 1)[1]
    drawn = set(re.findall(r"\b[A-Z][A-Za-z]+\b", drawing))
    assert not {cls.__name__ for cls in every_error_class()} - drawn


def test_every_layer_roots_at_fragility_error():
    assert issubclass(ModelError, FragilityError) and issubclass(SpecError, InputError)
    assert issubclass(NotFound, FragilityError) and status_for(SpecError()) == 422 and status_for(ModelError()) == 500


def test_boundary_hint_replaces_the_domain_hint_unless_one_was_given():
    assert hint_for(UnknownRegion("unknown region 'X'")) == REGION_HINT
    assert hint_for(UnknownIndicator()) == INDICATOR_HINT
    assert hint_for_class(UnknownRegion) == REGION_HINT
    assert hint_for(UnknownRegion(hint="given")) == "given"
    assert hint_for(SpecError()) == SpecError.hint and hint_for(ValueError("x")) == ""
    assert "/v1" not in UnknownRegion.hint and "/v1" not in UnknownIndicator.hint


def test_unknown_ids_in_a_batch_get_the_routes_appended_at_the_boundary():
    rows = [{"region": "ZZ", "indicator": "nope", "period": "2020-01", "value": 1}]
    with pytest.raises(BatchRejected) as caught:
        validate_batch(rows, catalogue=Catalogue(regions=frozenset({"AAA"}), indicators={"attacks": "count"}))
    assert [e.reason for e in caught.value.errors] == ["unknown region 'ZZ'", "unknown indicator 'nope'"]
    assert [e["reason"] for e in row_errors_of(caught.value)] == [
        "unknown region 'ZZ': add it with POST /v1/regions first",
        "unknown indicator 'nope': add it with POST /v1/indicators first"]


def test_answers_keep_their_route_hints(api):
    api.client.post("/v1/regions", json=REGIONS, headers=api.auth("write"))
    api.client.post("/v1/indicators", json=INDICATORS, headers=api.auth("write"))
    rows = [{"region": "QQQ", "indicator": "attacks", "period": "2020-01", "value": 1}]
    batch = api.client.post("/v1/observations", json={"observations": rows}, headers=api.auth("write")).json()
    assert batch["errors"] == [{"row": 0, "field": "region",
                                "reason": "unknown region 'QQQ': add it with POST /v1/regions first"}]
    series = api.client.get("/v1/series", params={"region": "QQQ", "indicator": "attacks"}, headers=api.auth("read"))
    assert series.status_code == 404 and series.json()["hint"] == REGION_HINT

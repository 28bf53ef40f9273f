"""Schemathesis over the whole OpenAPI schema, in process, with an admin key on a seeded database:
no answer is a 5xx and every answer matches its documented schema. One test per operation, plus a
stateful run: sequences of calls chained by the links schemathesis infers from the schema (a model
created, then read, changed, fitted, its jobs listed and cancelled, with the names and ids it answered).

The default run fuzzes a database without a fitted model (serving routes answer 404/409); the slow
run first fits model "m" for real, so the serving routes also answer 200 to generated questions
about it (the name "m" is mixed into the generated names).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.app import create_app
from service.settings import Settings
from tests.reliability.conftest import fit_model, make_seeded

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance]


def operation_labels() -> list[str]:
    """Return the label ("METHOD /path") of every operation of the app's schema."""
    app = create_app(Settings(database_url="sqlite://"))
    schema = schemathesis.openapi.from_dict(app.openapi())
    return sorted(result.ok().label for result in schema.get_all_operations())


LABELS = operation_labels()


def fuzz_target(tmp_path_factory, *, fitted: bool):
    """Return (schema, admin key, seeded) over a fresh seeded database (model "m" fitted if asked)."""
    seeded = make_seeded(tmp_path_factory.mktemp("fuzz"))
    if fitted:
        fit_model(seeded, "m")
    app = create_app(seeded.settings(max_body_bytes=200_000, max_batch_rows=500))
    return schemathesis.openapi.from_asgi("/openapi.json", app), seeded.keys["admin"], seeded


@pytest.fixture(scope="module")
def plain_target(tmp_path_factory):
    schema, key, seeded = fuzz_target(tmp_path_factory, fitted=False)
    yield schema, key
    seeded.database.dispose()


@pytest.fixture(scope="module")
def fitted_target(tmp_path_factory):
    schema, key, seeded = fuzz_target(tmp_path_factory, fitted=True)
    yield schema, key
    seeded.database.dispose()


def fuzz(schema, admin_key: str, label: str, *, prefer_name: str | None = None) -> None:
    """Run MAX_EXAMPLES generated cases of one operation; fails on a 5xx or a schema violation."""
    operation = schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(), use_known=st.booleans())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case, use_known):
        if prefer_name and use_known and case.path_parameters and "name" in case.path_parameters:
            case.path_parameters["name"] = prefer_name
        case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)

    run()


@pytest.mark.parametrize("label", LABELS)
def test_operation_never_5xx_and_matches_schema(plain_target, label):
    schema, key = plain_target
    fuzz(schema, key, label)


@pytest.fixture(scope="module")
def chained_target(tmp_path_factory):
    """Yield (schema, admin key) over a seeded database holding model "m" (created, not fitted): the
    schema cannot describe a model that validates (its regions must exist), so chains start from it."""
    from service.crud.models import create_model
    from tests.e2e.registry_support import model_payload
    from tests.reliability.conftest import QUICK_SAMPLER

    schema, key, seeded = fuzz_target(tmp_path_factory, fitted=False)
    with seeded.database.session() as session:
        create_model(session, data=model_payload(name="m", sampler=QUICK_SAMPLER))
    yield schema, key
    seeded.database.dispose()


def test_chained_operations_never_5xx_and_match_schema(chained_target):
    schema, key = chained_target
    workflow = schema.as_state_machine()
    assert len(workflow.bundles) >= 5, f"too few inferred links to chain calls: {sorted(workflow.bundles)}"
    steps: list[tuple[str, int]] = []

    class Chained(workflow):
        def before_call(self, case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}

        def after_call(self, response, case):
            steps.append((f"{case.method} {case.path}", response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    # generate only: the database keeps what earlier sequences did, so a replayed (shrunk) sequence would
    # draw other ids and Hypothesis would report that instead of the failure
    Chained.run(settings=settings(max_examples=10, stateful_step_count=6, deadline=None, derandomize=True,
                                  database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    chained = {label for label, status in steps if status < 300 and "{" in label}
    assert chained, f"no call on a path with parameters succeeded: {sorted(set(steps))[:20]}"


@pytest.mark.slow
@pytest.mark.parametrize("label", LABELS)
def test_operation_on_a_fitted_model_never_5xx_and_matches_schema(fitted_target, label):
    schema, key = fitted_target
    fuzz(schema, key, label, prefer_name="m")

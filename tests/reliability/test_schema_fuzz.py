"""Schemathesis over the whole OpenAPI schema, in process, with an admin key on a seeded database, with
every check schemathesis has (not only "no 5xx"): answers match their documented status codes, headers,
content types and body schemas; schema-invalid requests are refused with a 4xx; schema-valid ones are
not refused with a 4xx other than 401/403/404/409/429; a request without the key is refused. One test
per operation and generation mode (positive: valid data, negative: invalid data), plus a stateful run:
sequences of calls chained by the links schemathesis infers from the schema (a model created, then read,
changed, fitted, its jobs listed and cancelled, with the names and ids it answered), also with every check.

`positive_data_acceptance` is left out only for the operations in SEMANTIC_OPERATIONS, whose valid
bodies depend on what is stored or on rules a JSON schema cannot state (see there).

The default run fuzzes a database without a fitted model (serving routes answer 404/409); the slow
run first fits model "m" for real, so the serving routes also answer 200 to generated questions
about it (the name "m" is mixed into the generated names).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.settings import Settings
from tests.reliability.conftest import fit_model, make_seeded

MAX_EXAMPLES = 25
SEMANTIC_OPERATIONS = {
    # region ids are slugs, adjacency must be symmetric, neighbours and parents must exist
    "POST /v1/regions",
    # ids must be unique within the batch; a stored indicator's kind cannot change under its observations
    "POST /v1/indicators",
    # regions and indicators must exist, values must suit the indicator's kind, periods must be real months
    "POST /v1/observations", "POST /v1/observations/csv",
    # the indicator, regions and covariates must exist; a schedule must be a cron expression; the fit must be
    # within FRAGILITY_MAX_MODEL_REGIONS and FRAGILITY_MAX_POSTERIOR_VALUES (a product of fields)
    "POST /v1/models", "PUT /v1/models/{name}", "PATCH /v1/models/{name}",
    # questions to a fitted version: regions must be the model's, the horizon within its stored paths,
    # scenario months within that horizon (in the default run no model is fitted: these answer 404/409)
    "GET /v1/models/{name}/forecast", "GET /v1/models/{name}/forecast.png", "POST /v1/models/{name}/probability",
    "POST /v1/models/{name}/spillover",
    # a list's `cursor` must be a `next_cursor` the same listing gave (any other string is a 422 naming it)
    "GET /v1/regions", "GET /v1/series/revisions", "GET /v1/jobs", "GET /v1/models/{name}/versions",
}
"""Operations whose schema-valid requests may rightly be refused with 422: positive_data_acceptance is off."""


def excluded_checks(label: str) -> list:
    """Return the checks left out for the operation `label` (see SEMANTIC_OPERATIONS)."""
    return [positive_data_acceptance] if label in SEMANTIC_OPERATIONS else []


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
    # Questions in this process's threads: a cold question-process pool imports for up to a minute under load,
    # past schemathesis' 10 s read timeout; the process pool is tested in tests/reliability/test_question_load.py.
    app = create_app(seeded.settings(max_body_bytes=200_000, max_batch_rows=500, question_processes=False))
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


def fuzz(schema, admin_key: str, label: str, *, mode: GenerationMode = GenerationMode.POSITIVE,
         prefer_name: str | None = None) -> None:
    """Run MAX_EXAMPLES generated cases of one operation with every check; fails on the first failed check."""
    operation = schema.find_operation_by_label(label)
    if mode is GenerationMode.NEGATIVE and not (operation.body or any(True for _ in operation.iter_parameters())):
        pytest.skip("nothing in this operation can be made invalid")

    @given(case=operation.as_strategy(mode), use_known=st.booleans())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case, use_known):
        if prefer_name and use_known and case.path_parameters and "name" in case.path_parameters:
            case.path_parameters["name"] = prefer_name
        case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"},
                               excluded_checks=excluded_checks(label))

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", LABELS)
def test_operation_passes_every_check(plain_target, label, mode):
    schema, key = plain_target
    fuzz(schema, key, label, mode=mode)


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


def test_chained_operations_pass_every_check(chained_target):
    schema, key = chained_target
    workflow = schema.as_state_machine()
    assert len(workflow.bundles) >= 5, f"too few inferred links to chain calls: {sorted(workflow.bundles)}"
    steps: list[tuple[str, int]] = []

    class Chained(workflow):
        calls = 0

        def before_call(self, case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
            Chained.calls += 1
            # every other call on a model path asks about the seeded model "m": generated bodies cannot create
            # a model that validates, so links alone rarely reach one, and which calls do depends on the schema
            if Chained.calls % 2 == 0 and case.path_parameters and "name" in case.path_parameters:
                case.path_parameters["name"] = "m"

        def after_call(self, response, case):
            steps.append((f"{case.method} {case.path}", response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            label = f"{case.operation.method.upper()} {case.operation.path}"
            case.validate_response(response, excluded_checks=excluded_checks(label), headers=case.headers)

    # generate only: the database keeps what earlier sequences did, so a replayed (shrunk) sequence would
    # draw other ids and Hypothesis would report that instead of the failure
    Chained.run(settings=settings(max_examples=10, stateful_step_count=6, deadline=None, derandomize=True,
                                  database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    chained = {label for label, status in steps if status < 300 and "{" in label}
    assert chained, f"no call on a path with parameters succeeded: {sorted(set(steps))[:20]}"


@pytest.mark.slow
@pytest.mark.parametrize("label", LABELS)
def test_operation_on_a_fitted_model_passes_every_check(fitted_target, label):
    schema, key = fitted_target
    fuzz(schema, key, label, prefer_name="m")

"""Property-based API test: schemathesis generates requests from the OpenAPI schema of the data routes
(regions, indicators, observations, series, health) and no answer may be a 5xx; responses must match the
schema. Runs in-process on a SQLite file seeded with two regions and an indicator, with a write key."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.crud.indicators import upsert_indicators
from service.crud.keys import create_key
from service.crud.regions import upsert_regions
from service.db.engine import Database, run_migrations
from service.settings import Settings


def seeded_settings() -> tuple[Settings, str]:
    """Return settings on a fresh, seeded SQLite file and a write key for it."""
    folder = Path(tempfile.mkdtemp(prefix="ff-schemathesis-"))
    config = Settings(database_url=f"sqlite:///{folder / 'api.db'}", artifacts=folder / "artifacts",
                      rate_limit="1000000/minute")
    run_migrations(config.database_url)
    database = Database(config.database_url)
    with database.session() as session:
        upsert_regions(session=session, items=[{"id": "IRQ", "name": "Iraq", "neighbours": ["IRN"]},
                                               {"id": "IRN", "name": "Iran", "neighbours": ["IRQ"]}])
        upsert_indicators(session=session, items=[{"id": "attacks", "kind": "count"}])
        _, key = create_key(session=session, scope="write", label="schemathesis")
    database.dispose()
    return config, key


SETTINGS, WRITE_KEY = seeded_settings()
app = create_app(SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
    path_regex=r"^/(v1/(regions|indicators|observations|series)|healthz|readyz)")


OPERATIONS = {op.label: op for op in (result.ok() for result in schema.get_all_operations())}


# One pytest test per operation, named by it: schema.parametrize() gives all of them one node id, which
# pytest-xdist (make test's two processes) collapses into a single test.
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_data_routes_never_answer_5xx(label):
    @given(case=OPERATIONS[label].as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        # positive_data_acceptance is left out: the schema cannot say that adjacency must be symmetric or that
        # a region must exist, so some schema-valid bodies are rightly refused with 422.
        case.call_and_validate(headers={"Authorization": f"Bearer {WRITE_KEY}"},
                               excluded_checks=[positive_data_acceptance])

    check()

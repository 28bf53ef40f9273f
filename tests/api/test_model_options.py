"""A model's family options over HTTP: sent under `options` when the model is created or changed, checked by
its family (a refused option is a 422 naming options.<name>), stored with the model and shown in its detail."""

from __future__ import annotations

import pytest

REGIONS = {"regions": [{"id": "AAA", "name": "A", "neighbours": ["BBB"]},
                       {"id": "BBB", "name": "B", "neighbours": ["AAA"]}]}
INDICATORS = {"indicators": [{"id": "attacks", "kind": "count"}, {"id": "militia", "kind": "share"},
                             {"id": "kg", "kind": "amount"}]}
SHARE = {"name": "militia-model", "family": "share", "indicator": "militia", "regions": ["AAA", "BBB"]}


@pytest.fixture
def client(api):
    """Return (TestClient, write headers) with two regions and a count, a share and an amount indicator."""
    headers = api.auth("write")
    assert api.client.post("/v1/regions", json=REGIONS, headers=headers).status_code == 200
    assert api.client.post("/v1/indicators", json=INDICATORS, headers=headers).status_code == 200
    return api.client, headers


def refused_fields(answer) -> list[str]:
    """Return the fields a 422 answer names."""
    assert answer.status_code == 422, answer.text
    return [row["field"] for row in answer.json()["errors"]]


def test_options_are_stored_with_the_model_and_shown_in_its_detail(client):
    http, headers = client
    created = http.post("/v1/models", json={**SHARE, "options": {"floor": 0.02}}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["options"] == {"floor": 0.02}
    assert http.get("/v1/models/militia-model", headers=headers).json()["options"] == {"floor": 0.02}
    changed = http.patch("/v1/models/militia-model", json={"options": {"floor": 0.05}}, headers=headers)
    assert changed.status_code == 200 and changed.json()["options"] == {"floor": 0.05}, changed.text


def test_a_model_without_options_has_its_familys_defaults(client):
    http, headers = client
    answer = http.post("/v1/models", json={**SHARE, "name": "plain"}, headers=headers)
    assert answer.status_code == 201 and answer.json()["options"] == {}, answer.text


@pytest.mark.parametrize(("body", "fields", "reason"), [
    ({**SHARE, "options": {"floor": 2}}, ["options.floor"], "floor must lie in"),
    ({**SHARE, "options": {"floor": 0.02, "bogus": 1}}, ["options.bogus"], "share models take no option 'bogus'"),
    ({**SHARE, "options": {"spillover": False}}, ["options.spillover"], "beside the options"),
    ({**SHARE, "family": "amount", "indicator": "kg", "options": {"persistence": "yes"}}, ["options.persistence"],
     "persistence must be true or false"),
    ({**SHARE, "family": "count", "indicator": "attacks", "options": {"form": "cubic"}}, ["options.form"], "cubic"),
])
def test_an_option_the_family_refuses_is_a_422_naming_it(client, body, fields, reason):
    http, headers = client
    answer = http.post("/v1/models", json=body, headers=headers)
    assert refused_fields(answer) == fields and reason in answer.text
    assert http.get(f"/v1/models/{body['name']}", headers=headers).status_code == 404  # nothing stored


def test_a_change_is_checked_against_the_family_it_leaves_the_model_with(client):
    http, headers = client
    assert http.post("/v1/models", json={**SHARE, "options": {"floor": 0.02}}, headers=headers).status_code == 201
    answer = http.patch("/v1/models/militia-model", json={"family": "amount", "indicator": "kg"}, headers=headers)
    assert refused_fields(answer) == ["options.floor"]  # the kept share option means nothing to amount
    assert http.get("/v1/models/militia-model", headers=headers).json()["family"] == "share"

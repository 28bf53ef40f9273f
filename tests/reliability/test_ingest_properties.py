"""Hypothesis properties of ingest through HTTP (in-process app, SQLite):

- a batch is stored completely or refused completely (rows and revisions counted before and after),
  and it is refused exactly when one of its rows is bad or two rows share a key;
- re-sending an accepted batch changes nothing (every row `unchanged`);
- revision history never loses a value: every value ever accepted for a key is its current value or
  appears in its revisions.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from service.db.tables import observation_revisions, observations
from tests.reliability.conftest import Seeded

INDICATOR = "events"
PERIODS = [f"{year}-{month:02d}" for year in (1990, 1991) for month in range(1, 13)]
BAD_MUTATIONS = {
    "negative": lambda row: {**row, "value": -1},
    "fraction": lambda row: {**row, "value": 2.5},
    "nan": lambda row: {**row, "value": "NaN"},
    "inf": lambda row: {**row, "value": "inf"},
    "text": lambda row: {**row, "value": "twelve"},
    "unknown region": lambda row: {**row, "region": "ZZZ"},
    "unknown indicator": lambda row: {**row, "indicator": "nope"},
    "bad month": lambda row: {**row, "period": "1990-13"},
    "future": lambda row: {**row, "period": "2999-01"},
    "no value": lambda row: {k: v for k, v in row.items() if k != "value"},
    "no region": lambda row: {k: v for k, v in row.items() if k != "region"},
}


@pytest.fixture(scope="module")
def ingest(seeded: Seeded):
    """Return (client with a write key, seeded) after adding the `events` count indicator."""
    with seeded.client("write") as client:
        answer = client.post("/v1/indicators", json={"indicators": [{"id": INDICATOR, "kind": "count"}]})
        assert answer.status_code == 200, answer.text
        yield client, seeded


def good_rows(regions: list[str]):
    """Return a strategy of valid rows (keys may repeat across rows: the batch then has duplicates)."""
    return st.builds(lambda r, p, v: {"region": r, "indicator": INDICATOR, "period": p, "value": v},
                     st.sampled_from(regions), st.sampled_from(PERIODS), st.integers(0, 40))


def batches(regions: list[str]):
    """Return a strategy of (rows, expected_ok): mostly-valid batches, some with one bad row or duplicates."""
    def build(rows, bad):
        if bad is not None:
            index, kind = bad
            rows = list(rows)
            rows[index % len(rows)] = BAD_MUTATIONS[kind](rows[index % len(rows)])
        keys = [(r.get("region"), r.get("indicator"), r.get("period")) for r in rows]
        expected_ok = bad is None and len(set(keys)) == len(keys)
        return rows, expected_ok

    bad = st.none() | st.tuples(st.integers(0, 100), st.sampled_from(sorted(BAD_MUTATIONS)))
    return st.builds(build, st.lists(good_rows(regions), min_size=1, max_size=30), bad)


def stored_state(seeded: Seeded) -> tuple[dict, dict]:
    """Return ({key: current value}, {key: [revision old/new values]}) of the `events` indicator."""
    with seeded.database.session() as session:
        c = observations.c
        current = {(r, i, p): v for r, i, p, v in session.execute(
            select(c.region_id, c.indicator_id, c.period, c.value).where(c.indicator_id == INDICATOR))}
        r = observation_revisions.c
        history = defaultdict(list)
        for region, indicator, period, old, new in session.execute(
                select(r.region_id, r.indicator_id, r.period, r.old_value, r.new_value)
                .where(r.indicator_id == INDICATOR)):
            history[(region, indicator, period)] += [old, new]
    return current, history


ACCEPTED: dict[tuple, set[float]] = defaultdict(set)


@given(data=st.data())
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_batches_are_all_or_nothing_idempotent_and_history_keeps_every_value(ingest, data):
    client, seeded = ingest
    rows, expected_ok = data.draw(batches(seeded.regions))
    before_counts = seeded.counts()
    before_state = stored_state(seeded)[0]
    answer = client.post("/v1/observations", json={"observations": rows})
    assert answer.status_code < 500, answer.text
    event("accepted" if expected_ok else "refused")
    if not expected_ok:
        assert answer.status_code == 422, (rows, answer.text)
        assert answer.json()["errors"], answer.text
        assert seeded.counts() == before_counts
        assert stored_state(seeded)[0] == before_state
        return
    assert answer.status_code == 200, (rows, answer.text)
    result = answer.json()
    new_keys = {(r["region"], r["indicator"], r["period"]) for r in rows} - set(before_state)
    changed = [r for r in rows if (k := (r["region"], r["indicator"], r["period"])) in before_state
               and before_state[k] != r["value"]]
    assert (result["inserted"], result["updated"]) == (len(new_keys), len(changed))
    event("had revisions" if changed else "no revisions")
    assert result["inserted"] + result["updated"] + result["unchanged"] == len(rows)
    assert seeded.counts() == (before_counts[0] + len(new_keys), before_counts[1] + len(changed))
    current, history = stored_state(seeded)
    for row in rows:
        key = (row["region"], row["indicator"], row["period"])
        assert current[key] == row["value"]
        ACCEPTED[key].add(float(row["value"]))

    again = client.post("/v1/observations", json={"observations": rows}).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(rows))
    assert seeded.counts() == (before_counts[0] + len(new_keys), before_counts[1] + len(changed))

    for key, values in ACCEPTED.items():
        kept = {current[key], *history.get(key, [])}
        assert values <= kept, (key, values, kept)

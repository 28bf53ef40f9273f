"""The registry commands of the CLI against a real server over a fitted model (one tiny fit per module):
`fragility probability` (the CLI twin of POST /probability), `fragility models list|show|create`,
`GET /v1/models/{name}/paths` in csv, parquet and npz returning exactly the stored paths, and `fragility paths`.
Numbers in the CLI's tables are formatted (percentages with one decimal, rounded levels); --json keeps the API's."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from service.serving.path_cache import PathCache, resolve
from tests.conftest import cli
from tests.e2e.registry_support import fit_now, model_payload, tiny_panel, worker_registry

pytestmark = pytest.mark.e2e
MODEL = "attacks-paths"
LONG_FLOAT = re.compile(r"\d\.\d{4,}")


@pytest.fixture(scope="module")
def served(tmp_path_factory, live_server):
    """Return (server, env for CLI calls with a write key, stored Forecast of the served version): the tiny panel
    fitted once by a real Worker, then served by a real `fragility serve` process on the same store."""
    root = tmp_path_factory.mktemp("cli-registry")
    panel, _ = tiny_panel()
    indicator = {"id": "attacks", "kind": "count", "unit": "events", "description": "synthetic"}
    with worker_registry(root, panel, indicators=[indicator], models=[model_payload(name=MODEL, horizon=4)],
                         worker_name="cli-registry-worker") as (database, settings, worker, ids):
        assert fit_now(database, worker, ids[MODEL])["promoted"] is True
        with database.session() as session:
            _, stored = resolve(session, PathCache(settings.artifacts), MODEL)
    server = live_server(settings.database_url, artifacts_dir=settings.artifacts)
    env = {**server.env, "FRAGILITY_URL": server.base_url, "FRAGILITY_KEY": server.write_key,
           "COLUMNS": "200"}  # tables as wide as a terminal would show them (a pipe gets 80 columns)
    return server, env, stored


def ok(args: list[str], env: dict) -> str:
    """Return the stdout of `fragility ARGS`, failing the test on a non-zero exit."""
    done = cli(args, env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_probability_prints_the_api_answer_formatted(served):
    server, env, _ = served
    with server.client(server.read_key) as client:
        api = client.post(f"/v1/models/{MODEL}/probability", json={"region": "R01", "threshold": 5, "horizon": 3})
    assert api.status_code == 200, api.text
    assert json.loads(ok(["probability", MODEL, "--region", "R01", "--threshold", "5", "--horizon", "3", "--json"],
                         env)) == api.json()
    table = ok(["probability", MODEL, "--region", "R01", "--threshold", "5", "--horizon", "3"], env)
    answer = api.json()
    assert f"{100 * answer['probability']:.1f}%" in table and "some month 1..3" in table, table
    lo, hi = answer["interval"]
    assert f"{100 * lo:.1f}% to {100 * hi:.1f}%" in table and f"+-{100 * answer['mc_standard_error']:.1f} pts" in table
    per_month = json.loads(ok(["probability", MODEL, "--region", "R01", "--threshold", "5", "--horizon", "3",
                               "--per-month", "--json"], env))
    assert per_month["within"] is False and len(per_month["probability"]) == 3
    rows = ok(["probability", MODEL, "--region", "R01", "--threshold", "5", "--horizon", "3", "--per-month"], env)
    assert all(f"month {h}" in rows for h in (1, 2, 3)) and not LONG_FLOAT.search(rows), rows


def test_forecast_and_spillover_tables_round_their_numbers(served):
    _, env, _ = served
    forecast = ok(["forecast", MODEL, "--region", "R02", "--horizon", "3"], env)
    spill = ok(["spillover", MODEL, "--source", "R01", "--target", "R02", "--threshold", "3.95", "--horizon", "3"],
               env)
    for text in (forecast, spill):
        assert not LONG_FLOAT.search(text), text
    assert ">= 3.95 within 3 months" in spill and "%" in spill and " pts" in spill, spill


def test_models_list_show_and_create(served, tmp_path):
    _, env, _ = served
    created = json.loads(ok(["models", "create", "by-options", "--indicator", "attacks", "--regions", "R01,R02",
                             "--no-spillover", "--horizon", "3", "--draws", "500", "--json"], env))
    assert (created["regions"], created["spillover"], created["horizon"]) == (["R01", "R02"], False, 3)
    assert created["sampler"] == {"method": "nutpie", "draws": 500, "tune": 400, "chains": 2, "seed": 1}
    body = tmp_path / "model.json"
    body.write_text(json.dumps(model_payload(name="from-file", horizon=5)))
    from_file = json.loads(ok(["models", "create", "--file", str(body), "--horizon", "7", "--json"], env))
    assert from_file["name"] == "from-file" and from_file["horizon"] == 7  # the option overrides the file
    bad = cli(["models", "create", "bad", "--indicator", "nope"], env)
    assert bad.returncode == 1 and "error: 422" in bad.stderr and "nope" in bad.stderr, bad.stderr

    listed = json.loads(ok(["models", "list", "--json"], env))
    status = {row["name"]: (row["served_version"], row["newest_version"], row["status"]) for row in listed["data"]}
    assert status == {MODEL: (1, 1, "serving its newest version"), "by-options": (None, None, "never fitted"),
                      "from-file": (None, None, "never fitted")}
    table = ok(["models", "list"], env)
    assert MODEL in table and "never fitted" in table
    shown = ok(["models", "show", MODEL], env)
    assert "count model of attacks" in shown and "v1" in shown and "serving" in shown and "passed" in shown, shown
    missing = cli(["models", "show", "nope"], env)
    assert missing.returncode == 1 and "error: 404" in missing.stderr


def long_frame(stored, regions: list[str]) -> pd.DataFrame:
    """Return the stored paths of `regions` as the long table the endpoint promises (built here independently)."""
    rows = [(i, int(stored.groups[i]), period, region, stored.paths[i, h, stored.regions.index(region)])
            for i in range(stored.paths.shape[0]) for h, period in enumerate(stored.periods) for region in regions]
    return pd.DataFrame(rows, columns=["path", "draw_group", "period", "region", "value"])


def test_paths_endpoint_returns_the_stored_paths_exactly_in_each_format(served):
    server, _, stored = served
    assert stored.groups is not None  # the served version's paths are grouped by posterior draw
    regions = ["R03", "R01"]
    expected = long_frame(stored, regions)
    with server.client(server.read_key) as client:
        answers = {fmt: client.get(f"/v1/models/{MODEL}/paths", params={"regions": ",".join(regions), "format": fmt})
                   for fmt in ("csv", "parquet", "npz")}
        everything = client.get(f"/v1/models/{MODEL}/paths", params={"format": "npz"})
        unknown = client.get(f"/v1/models/{MODEL}/paths", params={"regions": "R01,ZZZ"})
        bad_format = client.get(f"/v1/models/{MODEL}/paths", params={"format": "xlsx"})
    assert {fmt: a.status_code for fmt, a in answers.items()} == {"csv": 200, "parquet": 200, "npz": 200}
    assert answers["csv"].headers["x-model-version"] == "1"
    assert 'filename="attacks-paths-v1-paths.csv"' in answers["csv"].headers["content-disposition"]

    from_csv = pd.read_csv(io.StringIO(answers["csv"].text), dtype={"period": str, "region": str})
    from_parquet = pd.read_parquet(io.BytesIO(answers["parquet"].content))
    for frame in (from_csv, from_parquet):
        assert list(frame.columns) == list(expected.columns)
        for column in expected.columns:  # exact: float values compare with ==, not approximately
            assert frame[column].tolist() == expected[column].tolist(), column
    with np.load(io.BytesIO(answers["npz"].content), allow_pickle=False) as npz:
        assert np.array_equal(npz["paths"], stored.paths[:, :, [stored.regions.index(r) for r in regions]])
        assert npz["regions"].tolist() == regions and npz["periods"].tolist() == stored.periods
        assert np.array_equal(npz["groups"], stored.groups)
    with np.load(io.BytesIO(everything.content), allow_pickle=False) as npz:
        assert np.array_equal(npz["paths"], stored.paths) and npz["regions"].tolist() == stored.regions
    assert unknown.status_code == 422 and "ZZZ" in unknown.json()["detail"]
    assert bad_format.status_code == 422


def test_paths_command_writes_the_served_paths(served, tmp_path):
    server, env, stored = served
    out = tmp_path / "paths.parquet"
    done = cli(["paths", MODEL, "--out", str(out), "--regions", "R02"], env)
    assert done.returncode == 0, done.stderr
    assert "parquet" in done.stderr and str(out) in done.stderr
    frame = pd.read_parquet(out)
    assert frame["value"].tolist() == stored.paths[:, :, stored.regions.index("R02")].reshape(-1).tolist()
    as_csv = tmp_path / "paths.txt"
    ok(["paths", MODEL, "--out", str(as_csv), "--format", "csv"], env)
    with server.client(server.read_key) as client:
        assert as_csv.read_bytes() == client.get(f"/v1/models/{MODEL}/paths").content
    kept = tmp_path / "kept.csv"
    kept.write_text("earlier")
    refused = cli(["paths", MODEL, "--out", str(kept), "--regions", "ZZZ"], env)
    assert refused.returncode == 1 and "error: 422" in refused.stderr and kept.read_text() == "earlier"

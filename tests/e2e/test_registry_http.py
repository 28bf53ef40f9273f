"""End to end over HTTP against a real server process (API + embedded scheduler + worker):
create a model, fit, promote, forecast, probability, spillover; a starved fit fails the gate and
the previous version keeps serving; clear 4xx answers for bad questions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.registry_support import (
    STARVED_SAMPLER,
    model_payload,
    observations_payload,
    regions_payload,
    tiny_panel,
)

pytestmark = pytest.mark.e2e


def wait_job(client: httpx.Client, job_id: int, timeout: float = 240) -> dict:
    """Return the job once it ended (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not end within {timeout} s: {job}")


def send_panel(client: httpx.Client) -> None:
    """Store the tiny panel's regions, indicator and observations through the data API; returns nothing."""
    panel, _ = tiny_panel()
    assert client.post("/v1/regions", json={"regions": regions_payload(panel)}).status_code == 200
    indicator = {"id": "attacks", "kind": "count", "unit": "events", "description": "synthetic"}
    assert client.post("/v1/indicators", json={"indicators": [indicator]}).status_code == 200
    stored = client.post("/v1/observations", json={"observations": observations_payload(panel)})
    assert stored.status_code == 200, stored.text


def test_create_fit_promote_forecast_spillover_and_the_gate(registry_server):
    client: httpx.Client = registry_server
    send_panel(client)

    created = client.post("/v1/models", json=model_payload(name="attacks-ring"))
    assert created.status_code == 201, created.text
    assert client.post("/v1/models", json=model_payload(name="attacks-ring")).status_code == 409
    assert client.post("/v1/models", json=model_payload(name="idle")).status_code == 201
    idle = client.get("/v1/models/idle/forecast", params={"region": "R01", "horizon": 3})
    assert idle.status_code == 409 and "never fitted" in idle.json()["detail"]

    accepted = client.post("/v1/models/attacks-ring/fit")
    assert accepted.status_code == 202
    job = wait_job(client, accepted.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["kind"] == "fit" and job["version"] == 1 and job["attempts"] == 1 and job["seconds"] > 0
    versions = client.get("/v1/models/attacks-ring/versions").json()
    (v1,) = versions["data"]
    assert v1["promoted"] and v1["served"] and v1["gate"] == {"passed": True, "reasons": []}
    assert len(v1["data_hash"]) == 64 and v1["sampler"]["draws"] == 1000
    assert v1["diagnostics"]["rhat_max"] <= 1.2 and len(v1["artifacts"]["paths_sha256"]) == 64

    forecast = client.get("/v1/models/attacks-ring/forecast",
                          params={"region": "R02", "horizon": 4, "quantiles": "0.1,0.5,0.9"})
    assert forecast.status_code == 200, forecast.text
    body = forecast.json()
    assert (body["model"], body["version"], body["region"], body["indicator"]) == ("attacks-ring", 1, "R02", "attacks")
    assert [s["period"] for s in body["steps"]] == ["2015-01", "2015-02", "2015-03", "2015-04"]
    for step in body["steps"]:
        q = step["quantiles"]
        assert q["0.1"] <= q["0.5"] <= q["0.9"] and step["mean"] >= 0

    probability = client.post("/v1/models/attacks-ring/probability",
                              json={"region": "R02", "threshold": 10, "horizon": 6}).json()
    low, high = probability["interval"]
    assert 0 <= low <= probability["probability"] <= high <= 1
    assert probability["credible_interval"] == [low, high] and "credible interval" in probability["interval_method"]
    assert 0 < probability["mc_standard_error"] < 0.05
    spill = client.post("/v1/models/attacks-ring/spillover",
                        json={"source": "R01", "target": "R02", "threshold": 15, "horizon": 6})
    assert spill.status_code == 200, spill.text
    spill = spill.json()
    assert spill["probability"] >= spill["probability_without_source"]
    assert spill["attributable"] == pytest.approx(spill["probability"] - spill["probability_without_source"])
    assert spill["normalise"] == "target" and 0 <= spill["channel_share"] <= 1
    low, high = spill["attributable_interval"]
    assert low <= spill["attributable"] <= high and spill["posterior_draws"] >= 20
    assert set(spill["mc_standard_error"]) == {"probability", "probability_without_source", "attributable",
                                               "channel_share"}
    doubled = client.post("/v1/models/attacks-ring/spillover", json={
        "source": "R01", "target": "R02", "threshold": 15, "horizon": 6, "scenario": {"scale": 2}}).json()
    assert doubled["probability"] >= spill["probability"]

    bad = {
        "unknown region": client.get("/v1/models/attacks-ring/forecast", params={"region": "ZZZ", "horizon": 3}),
        "horizon beyond paths": client.get("/v1/models/attacks-ring/forecast", params={"region": "R01", "horizon": 7}),
        "negative threshold": client.post("/v1/models/attacks-ring/probability",
                                          json={"region": "R01", "threshold": -1, "horizon": 3}),
        "not a neighbour": client.post("/v1/models/attacks-ring/spillover",
                                       json={"source": "R01", "target": "R03", "threshold": 5, "horizon": 3}),
        "unknown model": client.get("/v1/models/nope/forecast", params={"region": "R01", "horizon": 3}),
    }
    assert {k: r.status_code for k, r in bad.items()} == {
        "unknown region": 422, "horizon beyond paths": 422, "negative threshold": 422, "not a neighbour": 422,
        "unknown model": 404}
    assert "beyond the stored paths" in bad["horizon beyond paths"].json()["detail"]

    # a starved fit fails the gate; version 1 keeps serving
    assert client.patch("/v1/models/attacks-ring", json={"sampler": STARVED_SAMPLER}).status_code == 200
    job = wait_job(client, client.post("/v1/models/attacks-ring/fit").json()["job_id"])
    assert job["status"] == "succeeded" and job["version"] == 2 and job["result"]["promoted"] is False
    versions = client.get("/v1/models/attacks-ring/versions").json()
    assert versions["served_version"] == 1
    v2 = versions["data"][0]
    assert v2["version"] == 2 and not v2["promoted"] and not v2["gate"]["passed"] and v2["gate"]["reasons"]
    assert client.get("/v1/models/attacks-ring/forecast", params={"region": "R02", "horizon": 4}).json()["version"] == 1
    asked = client.get("/v1/models/attacks-ring/forecast", params={"region": "R02", "horizon": 4, "version": 2})
    assert asked.status_code == 409 and "not promoted" in asked.json()["detail"]
    assert client.get("/v1/models/attacks-ring").json()["served_version"] == 1

    # the CLI talks to the same server over HTTP
    env = {**os.environ, "FRAGILITY_URL": str(client.base_url),
           "FRAGILITY_KEY": client.headers["Authorization"].split()[-1]}
    shown = run_cli(["forecast", "attacks-ring", "--region", "R02", "--horizon", "3", "--json"], env)
    assert json.loads(shown)["version"] == 1 and len(json.loads(shown)["steps"]) == 3
    answer = json.loads(run_cli(["spillover", "attacks-ring", "--source", "R01", "--target", "R02",
                                 "--threshold", "15", "--horizon", "6", "--json"], env))
    assert answer["probability"] == pytest.approx(spill["probability"])
    queued = json.loads(run_cli(["fit", "idle", "--no-wait", "--json"], env))
    assert queued["kind"] == "fit" and queued["model"] == "idle"
    cancelled = client.post(f"/v1/jobs/{queued['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def run_cli(args: list[str], env: dict) -> str:
    """Return the stdout of `fragility ARGS` (fails the test on a non-zero exit)."""
    done = subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_backtest_over_http_scores_the_model_beside_the_baselines(registry_server):
    client: httpx.Client = registry_server
    send_panel(client)
    assert client.post("/v1/models",
                       json=model_payload(name="attacks-backtest", sampler=STARVED_SAMPLER)).status_code == 201
    bad_backtest = client.post("/v1/models/attacks-backtest/backtests", json={"origins": 2, "horizon": 0})
    assert bad_backtest.status_code == 422
    accepted = client.post("/v1/models/attacks-backtest/backtests", json={"origins": 2, "step": 1, "horizon": 2})
    assert accepted.status_code == 202
    job = wait_job(client, accepted.json()["job_id"])
    assert job["status"] == "succeeded" and job["kind"] == "backtest", job
    backtest = client.get(f"/v1/backtests/{job['id']}").json()
    assert backtest["model"] == "attacks-backtest" and backtest["status"] == "succeeded"
    assert {row["forecaster"] for row in backtest["scores"]} == {
        "zero", "persistence", "bootstrap", "model", "no_spillover"}
    assert backtest["by_region"] and client.get("/v1/backtests/999999").status_code == 404



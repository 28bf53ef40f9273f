"""`make run` a second time: the demo serves its fitted version again when the demo data and the model's
configuration are unchanged (no new version), `--refit` fits anew, and `demo --serve` warms its own first
question on the server before it prints "ready". One small demo fit (slow: ~1-3 min on 2 cores)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.processes import stop_process

FRAGILITY = Path(sys.executable).with_name("fragility")
SMALL = ["--periods", "40", "--draws", "60", "--tune", "60", "--strict-gate"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "FRAGILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'fragility.db'}",
            "FRAGILITY_ARTIFACTS": str(tmp_path / "artifacts"), "FRAGILITY_GATE__MAX_RHAT": "100",
            "FRAGILITY_GATE__MIN_ESS_BULK": "1", "FRAGILITY_GATE__MAX_DIVERGENCES": "1000000",
            "FRAGILITY_GATE__NAME": "test gate", "FRAGILITY_PUBLIC_READ": "1", "FRAGILITY_PORT": str(free_port())}


def demo(env: dict, cwd: Path, *options: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(FRAGILITY), "demo", *SMALL, *options], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_an_unchanged_demo_is_served_again_and_warmed_before_ready(env, tmp_path):
    first = demo(env, tmp_path)
    assert "middle-east v1: fitted in" in first.stdout and "passed, serving" in first.stdout, first.stdout
    assert "test gate (R-hat <= 100" in first.stdout, "the version names the gate it passed"

    again = demo(env, tmp_path)  # no fit (the next one is v2, not v3); its time is the first answer's, not a fit's
    assert "serving middle-east v1 again: the same data" in again.stderr, again.stderr
    assert "middle-east v1: served again, not refitted" in again.stdout and "P(Iran >=" in again.stdout, again.stdout

    refit = demo(env, tmp_path, "--refit")
    assert "middle-east v2: fitted in" in refit.stdout, refit.stdout

    log = tmp_path / "serve.log"
    server = subprocess.Popen([str(FRAGILITY), "demo", *SMALL, "--serve"], cwd=tmp_path, env=env,
                              stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while "ready: http://" not in log.read_text(errors="replace"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert "serving middle-east v2 again" in text and "first question answered and cached" in text, text
        assert text.index("P(Iran >=") < text.index("ready: http://"), "the server's answer comes first"
        assert '"message": "request"' not in text, "the demo's terminal gets no access-log line per request"
        base = f"http://127.0.0.1:{env['FRAGILITY_PORT']}"
        versions = httpx.get(f"{base}/v1/models/middle-east/versions", timeout=30).json()
        assert versions["count"] == 2 and versions["served_version"] == 2
        assert versions["data"][0]["diagnostics"]["gate"]["name"] == "test gate"
    finally:
        stop_process(server, group=True)

"""bench/skill.py on a real Dask LocalCluster: FRAGILITY_DASK_SCHEDULER sends the backtest tasks there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (DATA / "ucdp-state-based-deaths-country-month.csv").exists(), reason="needs ../shared/data")
def test_skill_runs_its_tasks_on_the_dask_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster:
        env = {**os.environ, "FRAGILITY_DASK_SCHEDULER": cluster.scheduler_address}
        out = subprocess.run([sys.executable, "bench/skill.py", "--origins", "2", "--step", "12", "--horizons", "3,14",
                              "--forecasters", "zero,bootstrap"], capture_output=True, text=True, env=env, cwd=ROOT,
                             timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"Dask cluster at {cluster.scheduler_address}" in out.stderr and "[  4/4 tasks]" in out.stderr
    pooled = [json.loads(line)["pooled"] for line in out.stdout.splitlines() if line.startswith('{"pooled"')]
    assert [p["forecaster"] for p in pooled] == ["zero", "bootstrap"] and all(p["n"] == 96 for p in pooled)

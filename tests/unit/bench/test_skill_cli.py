"""bench/skill.py: its help lists the regime and challenge options, and a baseline-only run prints every line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SKILL = ROOT / "bench" / "skill.py"
DATA = ROOT.parent / "shared" / "data"


def run_skill(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SKILL), *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_help_lists_the_new_options():
    out = run_skill("--help")
    assert out.returncode == 0, out.stderr
    for option in ("--origins", "--step", "--horizons", "--model-options", "--workers", "--out"):
        assert option in out.stdout
    assert "FRAGILITY_DASK_SCHEDULER" in out.stdout and "ign" in out.stdout and "pooled" in out.stdout


@pytest.mark.skipif(not (DATA / "ucdp-state-based-deaths-country-month.csv").exists(), reason="needs ../shared/data")
def test_challenge_protocol_with_baselines_prints_pooled_lines_and_scores(tmp_path):
    """Baselines only (no fits): origins in October, steps 3..14, one pooled line per forecaster."""
    out = run_skill("--origins", "2", "--step", "12", "--horizons", ",".join(str(h) for h in range(3, 15)),
                    "--forecasters", "zero,bootstrap", "--workers", "1", "--out", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    pooled = {line["pooled"]["forecaster"]: line["pooled"] for line in lines if "pooled" in line}
    assert set(pooled) == {"zero", "bootstrap"} and pooled["zero"]["horizons"] == list(range(3, 15))
    rows = [line for line in lines if "horizon" in line]
    assert {row["horizon"] for row in rows} == set(range(3, 15))
    assert all(row["ign"] is not None and row["mis"] is not None for row in rows)
    assert "2020-10" in out.stderr  # the last origin leaves 14 months of the 2021-12 data
    assert pooled["bootstrap"]["ign"] < pooled["zero"]["ign"]


@pytest.mark.skipif(not (DATA / "ucdp-state-based-deaths-world-country-month.csv").exists(),
                    reason="needs ../shared/data")
def test_challenge_mode_prints_one_line_per_forecaster_and_window_and_one_over_all():
    """--challenge: every October origin asked for (here the last 2), steps 3..14, window and overall lines."""
    out = run_skill("--challenge", "--origins", "2", "--forecasters", "zero,bootstrap,analogue", "--workers", "1")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    windows = [line for line in lines if "window" in line]
    assert {(w["forecaster"], w["window"], w["origin"]) for w in windows} == {
        (f, y, f"{y - 1}-10") for f in ("zero", "bootstrap", "analogue") for y in (2020, 2021)}
    overall = {line["overall"]["forecaster"]: line["overall"] for line in lines if "overall" in line}
    assert overall["bootstrap"]["ratio"] == pytest.approx(1.0) and overall["zero"]["windows_above_1"] >= 1
    for w in windows:
        assert w["onset_n"] > 0 and w["ending_n"] > 0 and w["onset_brier"] is not None
    # a forecaster that forecasts no violence never predicts an onset, and always predicts an ending
    zero = [w for w in windows if w["forecaster"] == "zero"]
    assert all(w["ending_brier"] > 0.5 for w in zero)

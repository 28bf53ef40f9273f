"""Artifact-directory faults, with real (short) fits by an in-process worker and questions over HTTP:

- a served version loses its forecast-paths file: it is marked broken and the previous good version
  serves again (the registry's own tests cover a corrupt file below HTTP, with a single version:
  tests/integration/test_jobs_worker.py::test_a_corrupt_paths_file_marks_the_version_broken);
- the artifact directory is full (a 64 KiB tmpfs) or read-only: the fit fails with a clear error, nothing
  is promoted, the previous version keeps serving.

Every test fits at least once (about a minute on a busy 2-core machine), so all are slow.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.reliability.conftest import Seeded, fit_model, make_seeded

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Seeded:
    """Return a seeded database whose model "m" was fitted once (version 1 serves)."""
    seeded = make_seeded(tmp_path_factory.mktemp("artifacts"))
    fit_model(seeded, "m")
    yield seeded
    seeded.database.dispose()


def versions(seeded: Seeded) -> dict[int, dict]:
    """Return the versions of model "m" by number, as the API lists them."""
    with seeded.client("read") as reader:
        return {v["version"]: v for v in reader.get("/v1/models/m/versions").json()["data"]}


def test_a_lost_paths_file_marks_the_version_broken_and_the_previous_one_serves(served: Seeded):
    fit_model(served, "m", create=False)
    listed = versions(served)
    assert listed[2]["served"] and not listed[1]["served"]
    lost = served.artifacts / listed[2]["artifacts"]["paths"]
    lost.unlink()
    with served.client("read") as reader:
        answer = reader.get("/v1/models/m/forecast", params={"region": "R01", "horizon": 3})
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 1 and len(answer.json()["steps"]) == 3
        asked = reader.get("/v1/models/m/forecast", params={"region": "R01", "horizon": 3, "version": 2})
        assert asked.status_code == 409 and "broken" in asked.json()["detail"], asked.text
        spill = reader.post("/v1/models/m/spillover",
                            json={"source": "R02", "target": "R01", "threshold": 1, "horizon": 3})
        assert spill.status_code == 200 and spill.json()["version"] == 1, spill.text
    listed = versions(served)
    assert "missing" in listed[2]["broken"] and listed[1]["served"] and listed[1]["broken"] is None


def mount_tmpfs(directory: Path, options: str) -> None:
    """Mount a tmpfs at `directory` with `options`, or skip the test saying why it could not be mounted."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); needs root/CAP_SYS_ADMIN")


@pytest.mark.parametrize("options,says", [("size=64k", "No space left on device"), ("ro,size=64k", "Read-only")],
                         ids=["disk-full", "read-only"])
def test_an_artifact_directory_that_cannot_be_written_fails_the_fit_clearly(served: Seeded, tmp_path, options, says):
    before = {n: v["served"] for n, v in versions(served).items()}
    directory = tmp_path / "small-artifacts"
    mount_tmpfs(directory, options)
    try:
        job = fit_model(served, "m", create=False, expect_success=False, artifacts=directory, job_max_attempts=1)
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)
    assert job.status == "failed", (job.status, job.result)
    assert says in job.error, job.error
    assert len(job.error) < 2000 and "Traceback" not in job.error, job.error
    assert {n: v["served"] for n, v in versions(served).items() if n in before} == before
    with served.client("read") as reader:
        job_answer = reader.get(f"/v1/jobs/{job.id}").json()
        assert job_answer["status"] == "failed" and says in job_answer["error"]
        assert reader.get("/v1/models/m/forecast", params={"region": "R01", "horizon": 2}).status_code == 200

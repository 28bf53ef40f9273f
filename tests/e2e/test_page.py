"""The analyst's web page in headless Chromium against a real server with a promoted model.

The page is driven without Node: `chromium --headless --dump-dom` runs its JavaScript (with a
virtual-time budget) and prints the final DOM, which must hold the fan chart (an inline SVG
with history, bands and median), the spillover answer matching the API's numbers, the versions
with their gate verdicts and the job list. The PNG route is checked as a real image.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import httpx
import numpy as np
import pytest
from matplotlib import image as mpimg

from service.plots import BAND_50_COLOUR, BAND_90_COLOUR
from tests.e2e.registry_support import (
    GATE_ENV, model_payload, observations_payload, regions_payload, tiny_panel,
)

pytestmark = pytest.mark.e2e
MODEL = "attacks-page"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--hide-scrollbars", "--window-size=1280,1800"]


def chromium(url: str, profile: Path, *, screenshot: Path | None = None, budget_ms: int = 20000) -> str:
    """Return the DOM of `url` after its scripts ran (or write a screenshot and return its log)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (.ci/run installs it)")
    profile.mkdir(parents=True, exist_ok=True)
    action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           f"--virtual-time-budget={budget_ms}", *action, url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout if not screenshot else done.stderr


class TextById(HTMLParser):
    """Collects the text inside the element with a given id (nested elements included)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id, self.depth, self.found, self.parts = element_id, 0, False, []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(dom: str, element_id: str) -> str:
    """Return the text inside the element with this id, whitespace collapsed."""
    parser = TextById(element_id)
    parser.feed(dom)
    assert parser.found, f"no element #{element_id} in the DOM"
    return " ".join(" ".join(parser.parts).split())


def pct(p: float) -> str:
    """Return a probability formatted like the page does (one decimal, percent)."""
    return f"{100 * p:.1f}%"


@pytest.fixture(scope="module")
def server(live_server, tmp_path_factory):
    """Return a public-read server seeded with the tiny ring panel (regions, indicator, observations)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('page') / 'fragility.db'}"
    running = live_server(url, env={"FRAGILITY_PUBLIC_READ": "1", **GATE_ENV}, worker=True)
    panel, _ = tiny_panel()
    with running.client(running.write_key) as client:
        client.post("/v1/regions", json={"regions": regions_payload(panel)}).raise_for_status()
        client.post("/v1/indicators", json={"indicators": [
            {"id": "attacks", "kind": "count", "unit": "attacks per month"}]}).raise_for_status()
        client.post("/v1/observations", json={"observations": observations_payload(panel)}).raise_for_status()
    running.panel = panel
    return running


@pytest.fixture(scope="module")
def fitted(server):
    """Return the server once MODEL is fitted and promoted (a tiny real nutpie fit)."""
    with server.client(server.write_key, timeout=300) as client:
        client.post("/v1/models", json=model_payload(name=MODEL)).raise_for_status()
        job_id = client.post(f"/v1/models/{MODEL}/fit").raise_for_status().json()["job_id"]
        job = wait_for_job(client, job_id)
        assert job["status"] == "succeeded", (job, server.log()[-3000:])
        versions = client.get(f"/v1/models/{MODEL}/versions").json()["data"]
        assert versions[0]["served"], versions
    return server


def wait_for_job(client: httpx.Client, job_id: int, timeout: float = 300) -> dict:
    """Return the job once it ended (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not end within {timeout} s: {job}")


def js_number(value: float) -> str:
    """Return `value` as the page prints it (`+v.toFixed(3)` in JavaScript)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def test_page_and_its_static_files_are_served(server):
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text and 'id="spill-form"' in page.text
    for name, kind in (("app.js", "javascript"), ("fanchart.js", "javascript"), ("style.css", "text/css")):
        asset = httpx.get(f"{server}/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
    assert httpx.get(f"{server}/static/missing.js").status_code == 404


def test_page_draws_the_observed_history_from_the_data_endpoints(server, tmp_path):
    dom = chromium(f"{server}/?region=R03", tmp_path / "profile")
    assert 'data-ready="1"' in dom
    svg = re.search(r'<svg[^>]*data-history="(\d+)"', dom)
    assert svg and int(svg.group(1)) == 48, "the chart shows the last 48 observed months"
    history = re.search(r'<path class="history" d="(M[^"]+)"', dom)
    assert history and history.group(1).count("L") >= 40
    assert "(R03) · attacks" in text_of(dom, "chart-title")


def test_page_shows_fan_chart_spillover_versions_and_jobs(fitted, tmp_path):
    values = fitted.panel.values("attacks")[fitted.panel.regions.index("R02")]
    threshold = int(np.nanpercentile(values[-24:], 75)) + 1
    question = {"source": "R01", "target": "R02", "threshold": threshold, "horizon": 6}
    expected = httpx.post(f"{fitted}/v1/models/{MODEL}/spillover", json=question, timeout=120).json()

    url = (f"{fitted}/?model={MODEL}&region=R02&horizon=6&source=R01&target=R02&threshold={threshold}")
    dom = chromium(url, tmp_path / "profile")
    assert re.search(r'<svg[^>]*data-steps="6"', dom), "the fan chart has 6 forecast steps"
    for band in ("band-90", "band-50"):
        points = re.search(rf'<polygon class="{band}" points="([^"]+)"', dom)
        assert points and len(points.group(1).split()) >= 2 * 6 + 1, band
    assert re.search(r'<path class="median" d="M[\d.,]+(L[\d.,]+){6}"', dom)
    assert re.search(r'<path class="history" d="M', dom)
    assert len(re.findall(r"<tr><td>20\d\d-\d\d</td>", dom)) == 6, "forecast table: one row per month"

    answer = text_of(dom, "spill-answer")
    headline = text_of(dom, "spill-headline")
    assert f"≥ {threshold} in some month of the next 6" in headline, headline
    assert pct(expected["probability"]) in headline and pct(expected["probability_without_source"]) in headline
    assert f"{100 * expected['attributable']:+.1f} pts" in answer, answer
    low, high = expected["attributable_interval"]
    assert f"90% interval {100 * low:+.1f} to {100 * high:+.1f} pts" in answer, answer

    versions = text_of(dom, "versions")
    assert "v1" in versions and "passed" in versions and "serving" in versions, versions
    jobs = text_of(dom, "jobs")
    assert "#1" in jobs and "fit" in jobs and "succeeded" in jobs, jobs
    assert 'id="png-link"' in dom and f"/v1/models/{MODEL}/forecast.png?region=R02" in unescape(dom)


def test_page_screenshot_renders(fitted, tmp_path):
    shot = tmp_path / "page.png"
    chromium(f"{fitted}/?model={MODEL}&region=R02&horizon=6&source=R01&target=R02&threshold=12",
             tmp_path / "profile", screenshot=shot)
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (1800, 1280)
    rgb = (pixels[..., :3] * 255).round().astype(np.uint8)
    # the SVG bands are painted (same colours as the PNG route)
    for colour in (BAND_90_COLOUR, BAND_50_COLOUR):
        target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
        assert np.all(rgb == target, axis=-1).sum() > 2000, colour


def test_forecast_png_route_returns_a_fan_chart(fitted):
    response = httpx.get(f"{fitted}/v1/models/{MODEL}/forecast.png", params={"region": "R02", "horizon": 6},
                         timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    pixels = mpimg.imread(io.BytesIO(response.content), format="png")
    rgb = (pixels[..., :3] * 255).round().astype(np.uint8)
    band = np.array([int(BAND_50_COLOUR[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    assert np.all(rgb == band, axis=-1).sum() > 500

    missing = httpx.get(f"{fitted}/v1/models/no-such-model/forecast.png", params={"region": "R02"})
    assert missing.status_code == 404 and "no-such-model" in missing.json()["detail"]
    too_far = httpx.get(f"{fitted}/v1/models/{MODEL}/forecast.png", params={"region": "R02", "horizon": 99})
    assert too_far.status_code == 422 and "beyond the stored paths" in too_far.json()["detail"]
    unknown = httpx.get(f"{fitted}/v1/models/{MODEL}/forecast.png", params={"region": "ZZZ", "horizon": 3})
    assert unknown.status_code == 422, unknown.text


def test_model_job_list_is_newest_first(fitted):
    body = httpx.get(f"{fitted}/v1/models/{MODEL}/jobs").json()
    assert body["model"] == MODEL and body["count"] == len(body["data"]) >= 1
    ids = [job["id"] for job in body["data"]]
    assert ids == sorted(ids, reverse=True) and body["data"][-1]["kind"] == "fit"
    assert httpx.get(f"{fitted}/v1/models/nope/jobs").status_code == 404


def test_page_asks_for_a_read_key_when_reads_are_not_public(live_server, tmp_path):
    private = live_server(f"sqlite:///{tmp_path / 'private.db'}")
    dom = chromium(f"{private}/", tmp_path / "profile")
    notice = text_of(dom, "notice")
    assert "needs a read key" in notice and "paste one above" in notice, notice
    assert httpx.get(f"{private}/v1/models/x/forecast.png", params={"region": "R01"}).status_code == 401


def test_page_shows_the_latest_backtest_scores(fitted, tmp_path):
    with fitted.client(fitted.write_key) as client:
        accepted = client.post(f"/v1/models/{MODEL}/backtests", json={"origins": 1, "horizon": 2})
        assert accepted.status_code == 202, accepted.text
        job = wait_for_job(client, accepted.json()["job_id"])
        assert job["status"] == "succeeded", job
        scores = client.get(f"/v1/backtests/{job['id']}").json()["scores"]
    assert scores
    dom = chromium(f"{fitted}/?model={MODEL}&region=R02", tmp_path / "profile")
    table = text_of(dom, "backtest")
    assert f"Job #{job['id']}: 1 origins" in table and "CRPS" in table, table
    for row in scores:
        assert row["forecaster"] in table
        assert js_number(row["crps"]) in table, (row, table)

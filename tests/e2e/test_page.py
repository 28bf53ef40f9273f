"""The analyst's web page in headless Chromium against a real server with a promoted model
(the database of a tiny `fragility demo` run: Middle East regions, Iraq -> Iran channel).

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
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from matplotlib import image as mpimg

from service.cli.demo import MODEL_NAME, describe, run_demo
from service.serving.plots import BAND_50_COLOUR, BAND_90_COLOUR
from service.settings import GateThresholds, Settings

pytestmark = pytest.mark.e2e
MODEL = MODEL_NAME
DEMO_PERIODS = 40
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


@pytest.fixture(scope="module")
def fitted(live_server, tmp_path_factory):
    """Return a public-read server on the database of a tiny `fragility demo` run (model served).

    The demo stores the 25 Middle East regions and DEMO_PERIODS months of synthetic history,
    fits `middle-east` with a few draws through the service's worker, and judges it by a lenient
    gate (this checks the pipeline and the page, not the fit's quality).
    """
    root = tmp_path_factory.mktemp("page")
    settings = Settings(database_url=f"sqlite:///{root / 'fragility.db'}", artifacts=root / "artifacts")
    lenient = GateThresholds(max_rhat=100.0, min_ess_bulk=1.0, max_divergences=1_000_000)
    result = run_demo(settings, n_periods=DEMO_PERIODS, draws=60, tune=60, chains=2, gate=lenient, echo=print)
    assert result.promoted, result.gate
    running = live_server(settings.database_url, settings.artifacts, env={"FRAGILITY_PUBLIC_READ": "1"},
                          worker=True)
    running.demo = result
    running.threshold = int(parse_qs(urlsplit(result.url).query)["threshold"][0])
    return running


def test_page_and_its_static_files_are_served(fitted):
    server = fitted
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text and 'id="spill-form"' in page.text
    for name, kind in (("app.js", "javascript"), ("fanchart.js", "javascript"), ("style.css", "text/css")):
        asset = httpx.get(f"{server}/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
    assert httpx.get(f"{server}/static/missing.js").status_code == 404


def test_the_tiny_demo_served_a_model_and_answered_iraq_to_iran(fitted):
    result = fitted.demo
    assert result.model == MODEL and result.version == 1
    answer = result.spillover
    assert (answer["source"], answer["target"], answer["horizon"]) == ("IRQ", "IRN", 6)
    assert 0 <= answer["probability_without_source"] <= answer["probability"] <= 1
    assert "P(Iran >=" in describe(result) and result.url.startswith("http://127.0.0.1:")


def test_page_draws_the_observed_history_from_the_data_endpoints(fitted, tmp_path):
    dom = chromium(f"{fitted}/?region=SYR", tmp_path / "profile")
    assert 'data-ready="1"' in dom
    svg = re.search(r'<svg[^>]*data-history="(\d+)"', dom)
    assert svg and int(svg.group(1)) == DEMO_PERIODS, "every observed month (up to 48) is drawn"
    history = re.search(r'<path class="history" d="(M[^"]+)"', dom)
    assert history and history.group(1).count("L") >= DEMO_PERIODS - 5
    assert "Syria (SYR) · conflict_deaths" in text_of(dom, "chart-title")


def test_page_shows_fan_chart_spillover_versions_and_jobs(fitted, tmp_path):
    threshold = fitted.threshold
    question = {"source": "IRQ", "target": "IRN", "threshold": threshold, "horizon": 6}
    expected = httpx.post(f"{fitted}/v1/models/{MODEL}/spillover", json=question, timeout=120).json()

    url = f"{fitted}/?model={MODEL}&region=IRN&horizon=6&source=IRQ&target=IRN&threshold={threshold}"
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
    assert f"90% credible interval {100 * low:+.1f} to {100 * high:+.1f} pts" in answer, answer

    versions = text_of(dom, "versions")
    assert "v1" in versions and "passed" in versions and "serving" in versions, versions
    jobs = text_of(dom, "jobs")
    assert "#1" in jobs and "fit" in jobs and "succeeded" in jobs, jobs
    assert 'id="png-link"' in dom and f"/v1/models/{MODEL}/forecast.png?region=IRN" in unescape(dom)


def test_page_screenshot_renders(fitted, tmp_path):
    shot = tmp_path / "page.png"
    chromium(f"{fitted}/?model={MODEL}&region=IRN&horizon=6&source=IRQ&target=IRN&threshold={fitted.threshold}",
             tmp_path / "profile", screenshot=shot)
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (1800, 1280)
    rgb = (pixels[..., :3] * 255).round().astype(np.uint8)
    # the SVG bands are painted (same colours as the PNG route)
    for colour in (BAND_90_COLOUR, BAND_50_COLOUR):
        target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
        assert np.all(rgb == target, axis=-1).sum() > 2000, colour


def test_forecast_png_route_returns_a_fan_chart(fitted):
    response = httpx.get(f"{fitted}/v1/models/{MODEL}/forecast.png", params={"region": "IRN", "horizon": 6},
                         timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    pixels = mpimg.imread(io.BytesIO(response.content), format="png")
    rgb = (pixels[..., :3] * 255).round().astype(np.uint8)
    band = np.array([int(BAND_50_COLOUR[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    assert np.all(rgb == band, axis=-1).sum() > 500

    missing = httpx.get(f"{fitted}/v1/models/no-such-model/forecast.png", params={"region": "IRN"})
    assert missing.status_code == 404 and "no-such-model" in missing.json()["detail"]
    too_far = httpx.get(f"{fitted}/v1/models/{MODEL}/forecast.png", params={"region": "IRN", "horizon": 99})
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
    assert httpx.get(f"{private}/v1/models/x/forecast.png", params={"region": "IRN"}).status_code == 401


@pytest.mark.slow  # a backtest refits the model and its no-spillover twin: ~30-110 s on 2 busy cores
def test_page_shows_the_latest_backtest_scores(fitted, tmp_path):
    with fitted.client(fitted.write_key) as client:
        accepted = client.post(f"/v1/models/{MODEL}/backtests", json={"origins": 1, "horizon": 2})
        assert accepted.status_code == 202, accepted.text
        job = wait_for_job(client, accepted.json()["job_id"])
        assert job["status"] == "succeeded", job
        scores = client.get(f"/v1/backtests/{job['id']}").json()["scores"]
    assert scores
    dom = chromium(f"{fitted}/?model={MODEL}&region=IRN", tmp_path / "profile")
    table = text_of(dom, "backtest")
    assert f"Job #{job['id']}: 1 origins" in table and "CRPS" in table, table
    for row in scores:
        assert row["forecaster"] in table
        assert js_number(row["crps"]) in table, (row, table)

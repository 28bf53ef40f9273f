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
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from matplotlib import image as mpimg

from service.cli.demo import run_demo
from service.cli.demo_data import MODEL_NAME
from service.cli.demo_report import describe
from service.serving.plots import BAND_50_COLOUR, BAND_90_COLOUR
from service.settings import GateThresholds, Settings
from tests.e2e.browser import chromium, text_of

pytestmark = pytest.mark.e2e
MODEL = MODEL_NAME
DEMO_PERIODS = 40
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
    lenient = GateThresholds(max_rhat=100.0, min_ess_bulk=1.0, max_divergences=1_000_000, name="lenient test gate")
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
    assert answer["unit"] == "deaths per month"
    assert "P(Iran >=" in describe(result) and result.url.startswith("http://127.0.0.1:")


def test_page_draws_the_observed_history_from_the_data_endpoints(fitted, tmp_path):
    dom = chromium(f"{fitted}/?region=SYR", tmp_path / "profile")
    assert 'data-ready="1"' in dom
    svg = re.search(r'<svg[^>]*data-history="(\d+)"', dom)
    assert svg and int(svg.group(1)) == DEMO_PERIODS, "every observed month (up to 48) is drawn"
    history = re.search(r'<path class="history" d="(M[^"]+)"', dom)
    assert history and history.group(1).count("L") >= DEMO_PERIODS - 5
    assert "Syria (SYR) · conflict_deaths (deaths per month)" in text_of(dom, "chart-title")


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
    forecast_table = dom.split('id="forecast-table"', 1)[1].split("</table>")[0]
    cells = re.findall(r"<td>([\d,.]+(?: – [\d,.]+)?)</td>", forecast_table)
    numbers = [n for cell in cells for n in cell.split(" – ")]
    decimals = {len(n.split(".")[1]) if "." in n else 0 for n in numbers}
    assert len(numbers) == 6 * 6 and len(decimals) == 1, f"one number of decimals in the table: {cells}"

    answer = text_of(dom, "spill-answer")
    headline = text_of(dom, "spill-headline")
    assert f"≥ {threshold} deaths per month in some month of the next 6" in headline, headline
    assert pct(expected["probability"]) in headline and pct(expected["probability_without_source"]) in headline
    assert f"{100 * expected['attributable']:+.1f} pts" in answer, answer
    low, high = expected["attributable_interval"]
    assert f"90% credible interval {100 * low:+.1f} to {100 * high:+.1f} pts" in answer, answer

    assert "Synthetic data" in text_of(dom, "synthetic-note") and not re.search(r'id="synthetic-note"[^>]*hidden', dom)
    assert f"75th percentile: {threshold}" in text_of(dom, "threshold-suggestions")
    assert "deaths per month" in text_of(dom, "threshold-unit")
    reading = text_of(dom, "how-to-read")
    for term in ("Attributable", "Channel share", "credible interval", "Monte Carlo error", 'normalise: "target"'):
        assert term in reading, term
    assert "Values in deaths per month" in text_of(dom, "forecast-caption")

    versions = text_of(dom, "versions")
    assert "v1" in versions and "passed" in versions and "serving" in versions, versions
    assert "lenient test gate: R̂ ≤ 100, bulk ESS ≥ 1, divergences ≤ 1000000" in versions, versions
    assert "Compile + sampling (s)" in versions, "the version's seconds say what they time"
    jobs = text_of(dom, "jobs")
    assert "#1" in jobs and "fit" in jobs and "succeeded" in jobs, jobs
    assert "Job total (s)" in jobs, "the job's seconds say they time the whole job"
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


def test_answers_carry_the_indicators_unit_and_the_suggested_threshold_is_the_demos(fitted):
    unit = "deaths per month"
    forecast = httpx.get(f"{fitted}/v1/models/{MODEL}/forecast", params={"region": "IRN", "horizon": 3}).json()
    assert forecast["unit"] == unit and forecast["indicator"] == "conflict_deaths"
    probability = httpx.post(f"{fitted}/v1/models/{MODEL}/probability", timeout=120,
                             json={"region": "IRN", "threshold": fitted.threshold, "horizon": 3}).json()
    assert probability["unit"] == unit, probability
    spill = httpx.post(f"{fitted}/v1/models/{MODEL}/spillover", timeout=120,
                       json={"source": "IRQ", "target": "IRN", "threshold": fitted.threshold, "horizon": 3}).json()
    assert spill["unit"] == unit and spill["indicator"] == "conflict_deaths", spill
    suggested = httpx.get(f"{fitted}/v1/series/thresholds", params={"region": "IRN", "indicator": "conflict_deaths"})
    assert suggested.status_code == 200, suggested.text
    by_level = {s["level"]: s["threshold"] for s in suggested.json()["suggestions"]}
    assert by_level[0.75] == fitted.threshold, "the demo asks at the API's 75th-percentile suggestion (one rule)"


def test_page_with_a_required_key_says_how_to_get_one_and_stops_loading(live_server, tmp_path):
    private = live_server(f"sqlite:///{tmp_path / 'private.db'}")
    dom = chromium(f"{private}/", tmp_path / "profile")
    instruction = text_of(dom, "key-needed")
    assert "fragility keys create --scope read" in instruction and "paste it into the Read key field" in instruction
    assert not re.search(r'id="key-needed"[^>]*hidden', dom), "the instruction is shown"
    assert re.search(r'id="notice"[^>]*hidden', dom), "no red error banner besides it"
    chart = text_of(dom, "chart")
    assert "Loading" not in chart and "fragility keys create --scope read" in chart, chart
    assert "Loading" not in text_of(dom, "versions") and 'data-ready="1"' in dom
    assert "not needed when reads are public" not in dom
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

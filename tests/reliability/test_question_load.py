"""Expensive questions do not stall the API (issue 28, item 2), against a real `fragility serve` process on a
model fitted for real:

- while 60 distinct spillover thresholds are asked at once (all admitted), `/healthz` and `GET /v1/models`
  keep answering quickly (the questions compute in the bounded pool of question processes, niced, not on the
  request threads nor under the API's GIL), every question is answered, and the server's memory, its question
  processes' included (read from /proc via psutil), stays bounded;
- with the default caps, one caller's 60 distinct questions get 429 with Retry-After beyond its share, and
  the server answers questions again once they are done;
- a question whose client goes away is abandoned (the server logs it), and the caller's slot comes back;
- the answer cache is bounded by bytes: 300 cheap answers do not evict one large simulation.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter

import httpx
import psutil
import pytest

from service.serving.path_cache import PathCache
from tests.reliability.conftest import fit_model, make_seeded

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUESTIONS = 60
MB = 1_000_000


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Return a seeded SQLite database with model `m` fitted and served (the tiny 4-region panel)."""
    seeded = make_seeded(tmp_path_factory.mktemp("questions"))
    fit_model(seeded, "m")
    yield seeded
    seeded.database.dispose()


def start(live_server, fitted, **env):
    """Return a server on the fitted database with public reads and `env` (FRAGILITY_* names without prefix)."""
    return live_server(fitted.url, fitted.artifacts,
                       env={"FRAGILITY_PUBLIC_READ": "1", **{f"FRAGILITY_{k.upper()}": v for k, v in env.items()}})


def question(i: int, scenario: dict | None = None) -> dict:
    """Return spillover question number `i` (a distinct threshold each)."""
    body = {"source": "R01", "target": "R02", "threshold": 1.5 + i / 100, "horizon": 3}
    return {**body, "scenario": scenario} if scenario else body


def ask_all(base_url: str, count: int, statuses: list, headers: list, first: int = 0) -> list[threading.Thread]:
    """Start `count` threads each asking one distinct question (numbers from `first`); append each status and
    Retry-After."""
    def ask(i: int) -> None:
        try:
            answer = httpx.post(f"{base_url}/v1/models/m/spillover", json=question(i), timeout=300)
            statuses.append(answer.status_code)
            headers.append(answer.headers.get("retry-after"))
        except httpx.HTTPError as exc:
            statuses.append(type(exc).__name__)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(first, first + count)]
    for thread in threads:
        thread.start()
    return threads


def memory(process: psutil.Process) -> int:
    """Return the resident bytes of `process` and every process below it (the question and fit processes)."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:  # ended meanwhile
            pass
    return total


def question_processes(process: psutil.Process) -> list[psutil.Process]:
    """Return the server's question processes: its children niced by FRAGILITY_QUESTION_NICENESS (10)."""
    return [child for child in process.children() if child.nice() >= process.nice() + 10]


def test_cheap_endpoints_answer_while_60_distinct_questions_compute(live_server, fitted):
    server = start(live_server, fitted, max_questions_per_key="60", max_waiting_questions="60")
    process = psutil.Process(server.process.pid)
    warm: list = []  # two first questions at once start both question processes (each loads the posterior)
    for thread in ask_all(server.base_url, 2, warm, []):
        thread.join(timeout=300)
    assert warm == [200, 200]
    assert question_processes(process), "the questions were not computed in niced processes of their own"
    before = memory(process)
    statuses: list = []
    threads = ask_all(server.base_url, QUESTIONS, statuses, [], first=2)
    latency: dict[str, list[float]] = {"/healthz": [], "/v1/models": []}
    peak = before
    with server.client() as client:
        while any(thread.is_alive() for thread in threads):
            for path, seconds in latency.items():
                started = time.perf_counter()
                assert client.get(path).status_code == 200
                seconds.append(time.perf_counter() - started)
            peak = max(peak, memory(process))
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=60)
    figures = {path: (statistics.median(s), max(s), len(s)) for path, s in latency.items()}
    print(f"{dict(Counter(statuses))}; median, max, n: {figures}; rss {before / MB:.0f} -> peak {peak / MB:.0f} MB")
    assert Counter(statuses) == {200: QUESTIONS}
    # generous bounds on a shared 2-core machine (the target is 100 ms; before, 101 s and 200 s)
    for path, (median, worst, count) in figures.items():
        assert count >= 3, f"the questions ended too quickly to measure {path}"
        assert median < 1.0 and worst < 10.0, (path, median, worst)
    assert len(question_processes(process)) <= 2  # FRAGILITY_QUESTION_WORKERS, the default
    assert peak - before < 400 * MB


def test_one_callers_questions_beyond_its_share_get_429_with_retry_after(live_server, fitted):
    server = start(live_server, fitted)  # defaults: 2 question threads, 8 waiting, 2 per caller
    statuses: list = []
    retry_after: list = []
    threads = ask_all(server.base_url, QUESTIONS, statuses, retry_after)
    for thread in threads:
        thread.join(timeout=300)
    counts = Counter(statuses)
    print(dict(counts))
    assert set(counts) == {200, 429} and counts[200] >= 2, counts
    refused = [value for status, value in zip(statuses, retry_after, strict=True) if status == 429]
    assert all(value is not None and int(value) >= 1 for value in refused), refused
    with server.client() as client:  # once the work is done, the same caller is answered again
        again = client.post("/v1/models/m/spillover", json=question(QUESTIONS + 1))
        assert again.status_code == 200, again.text
        busy = client.post("/v1/models/m/spillover", json=question(QUESTIONS + 1))
        assert busy.status_code == 200  # a cached answer needs no question slot


def test_a_question_whose_client_leaves_is_abandoned_and_frees_its_slot(live_server, fitted):
    server = start(live_server, fitted, max_questions_per_key="1")
    scenario = {"scale": 2.5}  # a scenario reruns every simulation: seconds of work
    with pytest.raises(httpx.ReadTimeout), server.client(timeout=0.5) as client:
        client.post("/v1/models/m/spillover", json=question(0, scenario))
    deadline = time.monotonic() + 30
    while "question abandoned" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "question abandoned" in server.log()
    with server.client(timeout=300) as client:  # the slot comes back once the abandoned work stops
        deadline = time.monotonic() + 120
        answer = client.post("/v1/models/m/spillover", json=question(1))
        while answer.status_code == 429 and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = client.post("/v1/models/m/spillover", json=question(1))
        assert answer.status_code == 200, answer.text


def test_answer_cache_is_bounded_by_bytes_not_by_count(tmp_path):
    cache = PathCache(tmp_path, capacity_bytes=50 * MB)
    simulation = bytes(20 * MB)
    cache.get(("cut", 1), lambda: simulation)
    for i in range(300):  # cheap answers: a forecast each with distinct quantiles
        cache.get(("forecast", 1, "R01", 3, (i / 1000,)), lambda i=i: f'{{"q": {i}}}'.encode() * 20)
    assert cache.peek(("cut", 1)) is simulation
    for i in range(3):  # three more large entries: the least recently used large ones go
        cache.get(("cut", 2 + i), lambda: bytes(20 * MB))
    assert cache.stats()["bytes"] <= 50 * MB
    assert cache.peek(("cut", 1)) is None and cache.peek(("cut", 4)) is not None

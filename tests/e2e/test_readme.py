"""README's first screen works as written: its two commands, and every command of "Ask your first question".

Default run (seconds): the first commands are `make run` and `make test` and make accepts both targets
(dry run); every `fragility` option the section uses exists; every curl in it names a real route with a
body the route accepts; the demo's threshold is the one the section names. Slow run: `fragility demo`
(a smaller history and fit), then a server on its database, and each command of the section run as
written (only the server's address replaced) on it, the page URL in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from indicators import add_months, current_month, load_demo_regions
from service.cli.demo_data import TARGET, demo_rows, demo_threshold
from tests.e2e.browser import chromium, text_of

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
FRAGILITY = Path(sys.executable).with_name("fragility")
README_SERVER = "http://127.0.0.1:8000"
pytestmark = pytest.mark.e2e


def section(title: str) -> str:
    """Return the README text under `## title` up to the next heading of level 1 or 2."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^#{{1,2}} )", README, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def commands_of(text: str) -> list[str]:
    """Return the shell commands of the indented code lines of `text` (comments after '#' dropped)."""
    lines = [line[4:] for line in text.splitlines() if line.startswith("    ") and line.strip()]
    return [line.split("  #", 1)[0].strip() for line in lines if not line.lstrip().startswith(("{", '"'))]


def first_question_commands() -> list[str]:
    """Return the commands of "Ask your first question" (before "How to read a spillover answer")."""
    text = section("Ask your first question").split("### How to read a spillover answer")[0]
    commands = commands_of(text)
    assert commands, "no commands in 'Ask your first question'"
    return commands


def page_url() -> str:
    """Return the page URL that "Ask your first question" gives."""
    urls = re.findall(rf"{re.escape(README_SERVER)}/\?\S+", section("Ask your first question"))
    assert urls, "no page URL in 'Ask your first question'"
    return urls[0]


def library_snippets() -> list[str]:
    """Return the Python code blocks of "Models (the library)" (indented six spaces inside its list items)."""
    blocks, current = [], []
    for line in section("Models (the library)").splitlines() + ["end"]:
        if line.startswith("      ") or (current and not line.strip()):
            current.append(line)
        elif current:
            blocks.append(textwrap.dedent("\n".join(current)).strip() + "\n")
            current = []
    assert len(blocks) >= 2 and all(("import" in b) for b in blocks[:2]), blocks
    return blocks


def test_library_snippets_define_every_name_they_use():
    """Each snippet stands alone: it compiles and pyflakes (ruff F) finds no undefined or unused name in it."""
    ruff = Path(sys.executable).with_name("ruff")
    for snippet in library_snippets():
        compile(snippet, "README snippet", "exec")
        done = subprocess.run([str(ruff), "check", "--select", "F", "--stdin-filename", "snippet.py", "-"],
                              input=snippet, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + snippet


@pytest.mark.slow  # real fits as written: fit_servable's 2 x (400 + 1300) draws and 2 x (1000 + 1000), ~2-4 min
def test_library_snippets_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the first snippet writes deaths.csv
    results = []
    for snippet in library_snippets():
        namespace: dict = {}
        exec(compile(snippet, "README snippet", "exec"), namespace)  # the README's own code
        results.append(namespace)
    count, families = results[0], results[1]
    low, high = count["fit"].spillover("IRQ", "IRN", threshold=23, horizon=6).probability_interval
    assert 0 <= low <= high <= 1 and 1 <= len(count["attempts"]) <= 3, count["attempts"]
    assert all("passed" in run for run in count["attempts"]), "the snippet reads attempts[-1]['passed']"
    assert (tmp_path / "deaths.csv").exists()
    assert 0 <= families["fit"].forecast(horizon=6).probability("IRN", threshold=100.0)["probability"] <= 1


def test_the_first_screen_leads_with_make_run_and_make_test_and_make_knows_both():
    first = commands_of(README.split("\n## ", 1)[0])
    assert first[:2] == ["make run", "make test"], first
    for target in ("run", "test"):
        done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_first_question_commands_use_real_routes_options_and_bodies():
    from service.app import create_app
    from service.schemas.models import SpilloverIn
    from service.settings import Settings

    spec = create_app(Settings(database_url="sqlite://")).openapi()
    routes = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$") for path in spec["paths"]]
    kinds = set()
    for command in first_question_commands():
        words = shlex.split(command)
        if words[0] == "curl":
            kinds.add("curl")
            url = next(w for w in words if w.startswith(README_SERVER))
            path = url[len(README_SERVER):].split("?")[0]
            assert any(r.match(path) for r in routes), f"{path} is no route"
            if "-d" in words and path.endswith("/spillover"):
                SpilloverIn.model_validate(json.loads(words[words.index("-d") + 1]))
        else:
            kinds.add("cli")
            assert words[0].endswith("fragility"), command
            options = [w for w in words if w.startswith("--")]
            done = subprocess.run([str(FRAGILITY), words[1], "--help"], capture_output=True, text=True, timeout=60,
                                  env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
            assert done.returncode == 0, done.stderr
            for option in options:
                assert option in done.stdout, f"`fragility {words[1]}` has no {option}"
    assert kinds == {"curl", "cli"}
    assert page_url().startswith(f"{README_SERVER}/?model=middle-east")


def test_the_threshold_the_readme_names_is_the_demos():
    rows = demo_rows(load_demo_regions(), n_periods=84, seed=7, end=add_months(current_month(), -1))
    threshold = demo_threshold(rows, TARGET)
    assert f"the demo's threshold, {threshold} deaths per month" in section("Ask your first question")
    assert f'"threshold":{threshold}' in " ".join(first_question_commands())


@pytest.mark.slow  # the demo fits a model (a smaller fit than the README's, the same command): ~1-2 min
def test_first_question_commands_run_as_written_after_the_demo(live_server, tmp_path):
    env = {**os.environ, "FRAGILITY_DATABASE_URL": f"sqlite:///{tmp_path / 'fragility.db'}",
           "FRAGILITY_ARTIFACTS": str(tmp_path / "artifacts"), "FRAGILITY_GATE__MAX_RHAT": "100",
           "FRAGILITY_GATE__MIN_ESS_BULK": "1", "FRAGILITY_GATE__MAX_DIVERGENCES": "1000000",
           "FRAGILITY_PUBLIC_READ": "0"}
    demo = subprocess.run([str(FRAGILITY), "demo", "--periods", "40", "--draws", "60", "--tune", "60",
                           "--strict-gate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "P(Iran >=" in demo.stdout and "page: http://" in demo.stdout
    assert "fragility keys create --scope read" in demo.stdout, "reads are not public: the demo says how to read"
    server = live_server(env["FRAGILITY_DATABASE_URL"], tmp_path / "artifacts", env={"FRAGILITY_PUBLIC_READ": "1"})

    outputs = []
    for command in first_question_commands():
        command = command.replace(README_SERVER, server.base_url)
        command = re.sub(r"^\S*fragility ", f"{FRAGILITY} ", command)
        done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "FRAGILITY_URL": server.base_url})
        assert done.returncode == 0 and done.stdout, (command, done.stderr)
        outputs.append(done.stdout)
    thresholds, answer, table = outputs
    assert [s["level"] for s in json.loads(thresholds)["suggestions"]] == [0.5, 0.75, 0.9]
    answer = json.loads(answer)
    assert answer["unit"] == "deaths per month" and 0 <= answer["probability_without_source"] <= answer["probability"]
    assert "attributable" in table and "channel share" in table

    dom = chromium(page_url().replace(README_SERVER, server.base_url), tmp_path / "profile", budget_ms=30000)
    headline = text_of(dom, "spill-headline")
    assert "Iran (IRN)" in headline and "23 deaths per month" in headline, headline

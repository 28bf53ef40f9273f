"""Headless Chromium for the browser tests: run a page's JavaScript and read the final DOM.

`chromium --headless --dump-dom` (Debian package `chromium`, installed by `.ci/run`) runs the page with a
virtual-time budget and prints the DOM; no Node, no driver. `offline=True` makes every host name but
127.0.0.1 and localhost unresolvable, so a page that needs the internet shows it.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--hide-scrollbars", "--window-size=1280,1800"]


OFFLINE_FLAGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]


def chromium(url: str, profile: Path, *, screenshot: Path | None = None, budget_ms: int = 20000,
             offline: bool = False) -> str:
    """Return the DOM of `url` after its scripts ran (or write a screenshot and return its log).

    offline=True: no host but 127.0.0.1 and localhost resolves (as on a machine without internet).
    """
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (.ci/run installs it)")
    profile.mkdir(parents=True, exist_ok=True)
    action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([binary, *CHROMIUM_FLAGS, *(OFFLINE_FLAGS if offline else []), f"--user-data-dir={profile}",
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

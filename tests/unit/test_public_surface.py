"""Each package's public surface is what the README's "Library surface" section documents, both ways."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Library surface"


def documented_surface() -> dict[str, list[str]]:
    """Return, per package bullet of the README's "Library surface" section, the backticked names after its colon."""
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"^- ", body, flags=re.MULTILINE)[1:]
    surface = {}
    for bullet in bullets:
        package, rest = re.match(r"`(\w+)`:(.*)", bullet, flags=re.DOTALL).groups()
        surface[package] = re.findall(r"`([^`]+)`", rest)
    return surface


def resolve(entry_point: str) -> object:
    """Return the object an entry point such as `service.app:create_app` names."""
    module, _, attribute = entry_point.partition(":")
    return getattr(importlib.import_module(module), attribute)


def test_the_readme_documents_every_package():
    assert set(documented_surface()) == {"indicators", "models", "service"}


@pytest.mark.parametrize("package", ["indicators", "models"])
def test_all_is_what_the_readme_lists(package):
    module = importlib.import_module(package)
    exported = set(module.__all__)
    documented = set(documented_surface()[package])
    assert not documented - exported, f"in README.md, not in {package}.__all__: {sorted(documented - exported)}"
    assert not exported - documented, f"in {package}.__all__, not in README.md: {sorted(exported - documented)}"
    assert all(hasattr(module, name) for name in exported)


def test_service_exports_nothing_and_its_entry_points_resolve():
    import service

    assert service.__all__ == []
    entry_points = [name for name in documented_surface()["service"] if ":" in name]
    assert entry_points, "the README lists no entry point of service"
    assert all(callable(resolve(entry_point)) for entry_point in entry_points)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts.values()) <= set(entry_points), "a console script is not documented in README.md"

"""Small modules: every Python file of the packages (indicators, models, service, bench) has at most 400 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("indicators", "models", "service", "bench")
MAX_LINES = 400


def line_counts() -> dict[str, int]:
    """Return the number of lines of every .py file under the packages, by path relative to the repository."""
    return {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def test_every_module_has_at_most_400_lines():
    counts = line_counts()
    assert counts, "no Python files found under the packages"
    offenders = {path: n for path, n in counts.items() if n > MAX_LINES}
    assert not offenders, f"modules over {MAX_LINES} lines (split them by job): " + ", ".join(
        f"{path} ({n})" for path, n in sorted(offenders.items(), key=lambda item: -item[1]))

"""Recovery tests: `slow` ones run only with --run-slow (or FRAGILITY_RUN_SLOW=1)."""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Skip items marked slow under tests/recovery unless slow runs were asked for."""
    try:
        run_slow = bool(config.getoption("--run-slow"))
    except ValueError:  # the option is registered by a root conftest, if any
        run_slow = False
    if run_slow or os.environ.get("FRAGILITY_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or FRAGILITY_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and "recovery" in str(item.fspath):
            item.add_marker(skip)

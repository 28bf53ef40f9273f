"""Tiny real fits shared by the count-model unit tests (each fitted once per session)."""

import numpy as np
import pytest

from indicators import Panel, simulate_count_panel
from models import CountModel

N_MONTHS = 48
REGIONS = [
    {"id": "R1", "name": "R1", "neighbours": ["R2", "R3"]},
    {"id": "R2", "name": "R2", "neighbours": ["R1", "R4"]},
    {"id": "R3", "name": "R3", "neighbours": ["R1", "R4", "EMPTY"]},
    {"id": "R4", "name": "R4", "neighbours": ["R2", "R3"]},
    {"id": "ISO", "name": "island", "neighbours": []},
    {"id": "EMPTY", "name": "no data", "neighbours": ["R3"]},
]
GAP = ("R2", 20)  # R2's month 20 is missing: months 20 and 21 of R2 cannot enter the likelihood


def make_panel() -> Panel:
    """Return 6 regions x 48 months of hhh4-form counts: a gap in R2, an island ISO and a region EMPTY with no data."""
    sim, _ = simulate_count_panel(4, N_MONTHS, seed=3, graph="ring")
    values = np.full((6, N_MONTHS), np.nan)
    values[:4] = sim.values("attacks")
    values[4] = np.random.default_rng(5).poisson(4.0, N_MONTHS)
    values[1, GAP[1]] = np.nan
    return Panel.from_arrays(REGIONS, "2018-01", {"attacks": values, "other": np.ones((6, N_MONTHS))})


@pytest.fixture(scope="session")
def tiny_panel() -> Panel:
    """The 6-region panel of `make_panel`."""
    return make_panel()


@pytest.fixture(scope="session")
def linear_fit(tiny_panel):
    """A real nutpie fit of the hhh4 level form (2 chains x 150 draws)."""
    return CountModel("attacks", form="linear").fit(tiny_panel, draws=150, tune=200, chains=2, seed=1)


@pytest.fixture(scope="session")
def loglinear_fit(tiny_panel):
    """A real nutpie fit of the log-linear form (2 chains x 150 draws)."""
    return CountModel("attacks", form="loglinear").fit(tiny_panel, draws=150, tune=200, chains=2, seed=1)

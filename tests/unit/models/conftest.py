"""Tiny real fits shared by the model unit tests and the family contract test (each fitted once per session),
on the panels of tests/family_panels.py."""

import pytest

import tests.toy_family  # noqa: F401  (registers the family "toy")
from indicators import Panel
from models import AmountModel, CountModel, Fit, ShareModel
from tests.family_panels import make_amount_panel, make_panel, make_share_panel
from tests.toy_family import ToyModel


@pytest.fixture(scope="session")
def tiny_panel() -> Panel:
    """The 6-region count panel of `make_panel`."""
    return make_panel()


@pytest.fixture(scope="session")
def linear_fit(tiny_panel):
    """A real nutpie fit of the hhh4 level form (2 chains x 150 draws)."""
    return CountModel("attacks", form="linear").fit(tiny_panel, draws=150, tune=200, chains=2, seed=1)


@pytest.fixture(scope="session")
def loglinear_fit(tiny_panel):
    """A real nutpie fit of the log-linear form (2 chains x 150 draws)."""
    return CountModel("attacks", form="loglinear").fit(tiny_panel, draws=150, tune=200, chains=2, seed=1)


@pytest.fixture(scope="session")
def toy_fit(tiny_panel) -> Fit:
    """A real nutpie fit of the toy family (tests/toy_family) to the count panel (2 chains x 200 draws)."""
    return ToyModel("attacks").fit(tiny_panel, draws=200, tune=200, chains=2, seed=1)


@pytest.fixture(scope="session")
def amount_panel() -> Panel:
    """The 6-region amount panel of `make_amount_panel`."""
    return make_amount_panel()


@pytest.fixture(scope="session")
def amount_fit(amount_panel) -> Fit:
    """A real nutpie fit (2 chains x 200 draws) of the default amount model."""
    return AmountModel(indicator="kg", covariates=[], spillover=True, normalise="target").fit(
        amount_panel, draws=200, tune=200, chains=2, seed=1, sampler="nutpie")


@pytest.fixture(scope="session")
def share_panel() -> Panel:
    """The 9-region share panel of `make_share_panel`."""
    return make_share_panel()


@pytest.fixture(scope="session")
def share_fit(share_panel) -> Fit:
    """A real nutpie fit (2 chains x 150 draws) of the share model."""
    return ShareModel("militia_share").fit(share_panel, draws=150, tune=200, chains=2, seed=1)

"""A library fit that misses the serving gate says so (issue 18): which parameter is worst and what to do."""

import warnings

import pytest

from models import CountModel
from models.core.errors import GateWarning


def test_a_starved_fit_warns_with_the_worst_parameter_and_the_remedy(tiny_panel):
    with pytest.warns(GateWarning, match=r"misses the serving gate: .*worst: \w+.*fit_servable"):
        fit = CountModel("attacks", form="linear").fit(tiny_panel, draws=20, tune=20, chains=2, seed=1)
    assert fit.diagnostics["ess_bulk_min"] < 400


def test_warn_false_keeps_quiet(tiny_panel):
    with warnings.catch_warnings():
        warnings.simplefilter("error", GateWarning)
        CountModel("attacks", form="linear").fit(tiny_panel, draws=20, tune=20, chains=2, seed=1, warn=False)

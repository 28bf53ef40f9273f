"""The default count model after a shock: its paths stay within the tail bound (a real fit, small draws)."""

import numpy as np
import pytest

from indicators import Panel, simulate_count_panel
from indicators.synthetic import make_graph
from models import CountModel
from models.evaluation.backtest import count_model_forecaster, run_backtest
from models.evaluation.baselines import bootstrap_forecast

N_MONTHS = 72
SHOCK_AT = 60  # region R1 jumps 100-fold from this month on


@pytest.fixture(scope="module")
def shocked_panel() -> Panel:
    """5 regions on a ring, 72 months of hhh4-form counts; R1's last 12 months are 100 times their simulated value."""
    sim, _ = simulate_count_panel(5, N_MONTHS, seed=7, graph="ring")
    values = sim.values("attacks").copy()
    values[0, SHOCK_AT:] = np.maximum(values[0, SHOCK_AT:], 1.0) * 100.0
    return Panel.from_arrays(make_graph(5, "ring"), "2015-01", {"attacks": values})


def test_default_model_is_tail_safe_by_construction():
    spec = CountModel("attacks").spec
    assert spec.options["ceiling_factor"] <= 10 and 0 < spec.options["pool_weight"] < 1


def test_paths_after_a_100_fold_jump_stay_within_ten_times_the_largest_month(shocked_panel):
    """Origin two months after the jump: the tail check of the backtest bounds every simulated month."""
    origin = shocked_panel.periods[SHOCK_AT + 1]
    forecasters = {"model": count_model_forecaster(True, draws=150, tune=150, chains=1, forecast_draws=1000),
                   "bootstrap": bootstrap_forecast}
    result = run_backtest(shocked_panel, "attacks", forecasters, [origin], 6, seed=2)
    assert not result.failures, result.failures
    observed_max = float(np.nanmax(shocked_panel.values("attacks")))
    assert result.tail["observed_max"] == observed_max
    assert result.tail["max_simulated_ratio"] <= 10.0, result.tail
    assert result.tail["worst_ratio"] is not None

"""Per-window backtest rows and the onset / ending events of a window."""

import numpy as np
import pandas as pd
import pytest

from indicators import Panel
from models.count.analogue import analogue_forecast
from models.evaluation.backtest import run_backtest
from models.evaluation.backtest_windows import window_events, window_rows
from models.evaluation.baselines import BASELINES


def test_onset_is_scored_only_for_regions_quiet_for_a_year_and_ending_only_for_regions_at_war():
    history = np.zeros((3, 24))
    history[1, -2] = 40.0  # region 1 at war at the origin
    history[2, -6] = 3.0  # region 2 neither quiet for a year nor at war
    observed = np.zeros((4, 3))
    observed[2, 0] = 30.0  # region 0 has an onset in step 3
    paths = np.zeros((10, 4, 3))
    paths[:4, 1, 0] = 50.0  # 40% of paths see region 0 reach 25
    paths[:, :, 1] = 5.0  # no path ends region 1's war; it did end (observed zeros)
    events = window_events(paths, observed, history, steps=[2, 3, 4])
    assert events["onset_brier"][0] == pytest.approx((0.4 - 1.0) ** 2)
    assert np.isnan(events["onset_brier"][1:]).all()
    assert events["ending_brier"][1] == pytest.approx((0.0 - 1.0) ** 2)
    assert np.isnan(events["ending_brier"][[0, 2]]).all()


def test_border_onset_is_scored_only_for_quiet_regions_with_a_neighbour_at_war():
    history = np.zeros((4, 24))
    history[1, -1] = 60.0  # region 1 at war
    observed = np.zeros((3, 4))
    paths = np.zeros((10, 3, 4))
    paths[:2, 0, 0] = 30.0  # region 0 (borders region 1): 20% onset, none happened
    weights = np.zeros((4, 4))
    weights[1, 0] = weights[0, 1] = 1.0  # 0 - 1
    weights[2, 3] = weights[3, 2] = 1.0  # 2 - 3: both quiet, no war next door
    events = window_events(paths, observed, history, steps=[1, 2, 3], weights=weights)
    assert events["border_onset_brier"][0] == pytest.approx(0.2**2)
    assert np.isnan(events["border_onset_brier"][1:]).all()
    assert np.isfinite(events["onset_brier"][[0, 2, 3]]).all()
    assert np.isnan(window_events(paths, observed, history, steps=[1, 2, 3])["border_onset_brier"]).all()


def test_an_event_outside_the_window_steps_does_not_count():
    history = np.zeros((1, 12))
    observed = np.array([[100.0], [0.0], [0.0]])
    paths = np.zeros((5, 3, 1))
    events = window_events(paths, observed, history, steps=[2, 3])
    assert events["onset_brier"][0] == 0.0


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(3)
    periods = [f"{y}-{m:02d}" for y in range(2010, 2016) for m in range(1, 13)]
    rows = [("A", "deaths", p, float(v)) for p, v in zip(periods, rng.poisson(20, len(periods)))]
    rows += [("B", "deaths", p, float(v)) for p, v in zip(periods, (rng.random(len(periods)) < 0.1) * 30)]
    regions = [{"id": "A", "name": "A", "neighbours": ["B"]}, {"id": "B", "name": "B", "neighbours": ["A"]}]
    return Panel.from_frame(pd.DataFrame(rows, columns=["region", "indicator", "period", "value"]), regions=regions)


def test_window_rows_pool_each_origin_and_give_the_ratio_to_the_bootstrap(panel):
    origins, horizons = ["2012-10", "2013-10"], list(range(3, 15))
    forecasters = {"bootstrap": BASELINES["bootstrap"], "zero": BASELINES["zero"], "analogue": analogue_forecast}
    result = run_backtest(panel, "deaths", forecasters, origins, 14, horizons=horizons, seed=1)
    rows = {(r["forecaster"], r["origin"]): r for r in result.windows}
    assert len(rows) == 6 and {r["window"] for r in result.windows} == {2013, 2014}
    assert all(rows[("bootstrap", o)]["ratio"] == pytest.approx(1.0) for o in origins)
    by_origin = {(row["forecaster"], row["horizon"]): row for row in result.scores}
    assert by_origin  # the per-horizon rows are still there
    overall = {r["forecaster"]: r for r in result.overall}
    pooled = {r["forecaster"]: r for r in result.pooled}
    for name in forecasters:
        assert overall[name]["crps"] == pytest.approx(pooled[name]["crps"])
        window_crps = [rows[(name, o)]["crps"] for o in origins]
        assert overall[name]["crps"] == pytest.approx(np.mean(window_crps))  # equal cells per window here
    assert overall["zero"]["windows_above_1"] == 2 and overall["zero"]["worst_window_ratio"] > 1


def test_window_rows_without_events_still_give_scores():
    stack = {"crps": np.ones((1, 2, 1)), "crps_log1p": np.ones((1, 2, 1)), "ign": np.ones((1, 2, 1)),
             "mis": np.ones((1, 2, 1)), "coverage90": np.ones((1, 2, 1))}
    rows, overall = window_rows({"bootstrap": stack}, {}, np.ones((1, 2, 1), bool), ["2020-10"], [1, 2],
                                ["2020-10", "2020-11", "2020-12"])
    assert rows[0]["window"] == 2020 and rows[0]["ratio"] == 1.0 and rows[0]["onset_brier"] is None
    assert overall[0]["windows_above_1"] == 0

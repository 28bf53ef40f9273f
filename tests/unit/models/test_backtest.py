"""Rolling-origin backtests with the baselines (fast) and with real count-model fits."""

import json
import os
import pickle
import socket
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from indicators import Panel, simulate_count_panel
from indicators.errors import InputError
from models.evaluation.backtest import (
    compare_to_baselines,
    count_model_forecaster,
    origins_for,
    run_backtest,
    task_seed,
)
from models.evaluation.baselines import BASELINES, persistence_forecast

SCORE_KEYS = {"forecaster", "horizon", "crps", "crps_log1p", "dss", "logs", "coverage50", "coverage90",
              "hit90_closed", "ign", "mis", "brier_1", "brier_25", "n"}
REGIONS = [
    {"id": "A", "name": "A", "neighbours": ["B"]},
    {"id": "B", "name": "B", "neighbours": ["A", "C"]},
    {"id": "C", "name": "C", "neighbours": ["B"]},
]
PERIODS = [f"{y}-{m:02d}" for y in (2019, 2020, 2021) for m in range(1, 13)]


@pytest.fixture(scope="module")
def panel():
    """A: a ramp 0, 1, 2, ... over 36 months; B: Poisson(30) noise with its last month missing; C: no data."""
    rng = np.random.default_rng(0)
    rows = [("A", "deaths", p, float(i)) for i, p in enumerate(PERIODS)]
    rows += [("B", "deaths", p, float(v)) for p, v in zip(PERIODS[:-1], rng.poisson(30, len(PERIODS) - 1))]
    return Panel.from_frame(pd.DataFrame(rows, columns=["region", "indicator", "period", "value"]), regions=REGIONS)


class TestOrigins:
    def test_last_origin_leaves_the_longest_horizon_observed(self, panel):
        # last observed month 2021-12, horizon 6 -> last origin 2021-06; 4 origins 3 months apart
        assert origins_for(panel, "deaths", 4, 3, 6) == ["2020-09", "2020-12", "2021-03", "2021-06"]
        assert origins_for(panel, "deaths", 2, 1, 1) == ["2021-10", "2021-11"]

    def test_too_many_origins_is_an_input_error(self, panel):
        with pytest.raises(InputError, match="fewer origins"):
            origins_for(panel, "deaths", 40, 1, 6)

    def test_task_seed_is_shared_by_forecasters_and_differs_by_origin(self):
        assert task_seed(1, "2020-01") == task_seed(1, "2020-01") != task_seed(1, "2020-02")


@pytest.fixture(scope="module")
def result(panel):
    """The three baselines from 6 origins 2 months apart, horizon 3, reporting steps 1 and 3."""
    origins = origins_for(panel, "deaths", 6, 2, 3)
    return run_backtest(panel, "deaths", BASELINES, origins, 3, seed=4, horizons=[1, 3])


class TestBaselineBacktest:

    def test_rows_and_keys(self, result):
        assert [(r["forecaster"], r["horizon"]) for r in result.scores] == [
            (f, h) for f in ("zero", "persistence", "bootstrap") for h in (1, 3)]
        assert all(set(r) == SCORE_KEYS for r in result.scores)
        assert all(set(r) == SCORE_KEYS | {"region"} for r in result.by_region)
        assert {r["region"] for r in result.by_region} == {"A", "B"}  # C has no data: not scored
        assert all(r["logs"] is None for r in result.scores if r["horizon"] != 1)
        assert not result.failures

    def test_persistence_on_a_ramp_misses_by_the_horizon(self, result):
        # A is 0, 1, 2, ...: persistence forecasts y[o] for y[o + h] = y[o] + h, CRPS of a point mass = h
        rows = {(r["forecaster"], r["horizon"]): r for r in result.by_region if r["region"] == "A"}
        assert rows[("persistence", 1)]["crps"] == pytest.approx(1.0)
        assert rows[("persistence", 3)]["crps"] == pytest.approx(3.0)
        assert rows[("persistence", 3)]["hit90_closed"] == 0.0

    def test_every_forecaster_is_scored_on_the_same_cells(self, result):
        n = {(r["forecaster"], r["horizon"]): r["n"] for r in result.scores}
        # 6 origins x 2 regions, minus B's missing last month (horizon 3 of the last origin)
        assert n[("zero", 1)] == n[("bootstrap", 1)] == 12
        assert n[("zero", 3)] == n[("persistence", 3)] == n[("bootstrap", 3)] == 11

    def test_executor_gives_the_same_result_as_inline(self, panel, result):
        progress = []
        with ThreadPoolExecutor(2) as pool:
            again = run_backtest(panel, "deaths", BASELINES, result.origins, 3, seed=4, horizons=[1, 3],
                                 submit=pool.submit, progress=lambda d, t, o: progress.append((d, t, o)))
        assert again.scores == result.scores and again.pooled == result.pooled
        assert [(d, t) for d, t, _ in progress] == [(n, 18) for n in range(1, 19)]
        assert {(o.forecaster, o.origin) for _, _, o in progress} == {(t["forecaster"], t["origin"])
                                                                       for t in result.tasks}

    def test_every_task_says_where_and_when_it_ran(self, result):
        assert len(result.tasks) == 18 and all(t["error"] is None for t in result.tasks)
        assert {t["worker"] for t in result.tasks} == {f"{socket.gethostname()}:{os.getpid()}"}
        assert all(t["started"] <= t["ended"] for t in result.tasks)

    def test_to_dict_is_json(self, result):
        data = json.loads(json.dumps(result.to_dict()))
        assert data["origins"] == result.origins and len(data["within"]) == 6

    def test_summary_names_the_best_baseline(self, result):
        summary = compare_to_baselines(result, model="bootstrap")
        assert summary["1"]["crps"]["best_baseline"] in {"zero", "persistence"}
        assert summary["1"]["crps"]["model"] == next(
            r["crps"] for r in result.scores if r["forecaster"] == "bootstrap" and r["horizon"] == 1)


class TestPooledAndTail:

    def test_pooled_row_is_the_mean_over_every_cell_of_the_given_horizons(self, result):
        pooled = {row["forecaster"]: row for row in result.pooled}
        by_h = {(r["forecaster"], r["horizon"]): r for r in result.scores}
        for name in ("zero", "persistence", "bootstrap"):
            n1, n3 = by_h[(name, 1)]["n"], by_h[(name, 3)]["n"]
            expected = (by_h[(name, 1)]["crps"] * n1 + by_h[(name, 3)]["crps"] * n3) / (n1 + n3)
            assert pooled[name]["crps"] == pytest.approx(expected)
            assert pooled[name]["n"] == n1 + n3 and pooled[name]["horizons"] == [1, 3]
            assert pooled[name]["ign"] is not None and pooled[name]["mis"] is not None

    def test_tail_check_names_the_worst_origin_and_the_largest_path(self, panel):
        """A forecaster that doubles the bootstrap at one origin and step: the worst ratio is 2 there."""
        origins = ["2020-06", "2020-12"]

        def doubled(p, indicator, horizon, seed):
            paths = persistence_forecast(p, indicator, horizon, seed)
            if p.periods[-1] == "2020-12":
                paths = paths.copy()
                paths[:, 1] = 1e6  # an absurd month at step 2
            return paths

        result = run_backtest(panel, "deaths", {"model": doubled, "bootstrap": persistence_forecast}, origins, 2)
        tail = result.tail
        assert tail["worst_origin"] == "2020-12" and tail["worst_horizon"] == 2 and tail["worst_ratio"] > 100
        assert tail["max_simulated"] == 1e6
        assert tail["observed_max"] == max(35.0, float(np.nanmax(panel.values("deaths"))))
        assert tail["max_simulated_ratio"] == pytest.approx(1e6 / tail["observed_max"])
        calm = run_backtest(panel, "deaths", {"model": persistence_forecast, "bootstrap": persistence_forecast},
                            origins, 2)
        assert calm.tail["worst_ratio"] == pytest.approx(1.0) and calm.tail["max_simulated_ratio"] <= 1.0


def broken_after_2021(panel, indicator, horizon, seed):
    """A forecaster that fails on late origins (a failed fit)."""
    if panel.periods[-1] >= "2021-01":
        raise RuntimeError("sampler diverged")
    return persistence_forecast(panel, indicator, horizon, seed)


def test_a_failed_task_is_recorded_and_its_cells_left_out_for_everyone(panel):
    origins = ["2020-06", "2020-12", "2021-03"]
    result = run_backtest(panel, "deaths", {"broken": broken_after_2021, "zero": BASELINES["zero"]}, origins, 1)
    assert [f["origin"] for f in result.failures] == ["2021-03"]
    assert "sampler diverged" in result.failures[0]["error"]
    assert {r["forecaster"]: r["n"] for r in result.scores} == {"broken": 4, "zero": 4}


def test_wrong_shape_is_a_failure(panel):
    result = run_backtest(panel, "deaths", {"bad": lambda p, i, h, s: np.zeros((5, h, 2))}, ["2020-06"], 2)
    assert "expected (samples, 2, 3)" in result.failures[0]["error"]


def test_count_model_forecaster_is_picklable():
    forecaster = count_model_forecaster(False, draws=50, tune=50, chains=1)
    assert pickle.loads(pickle.dumps(forecaster)) == forecaster


def test_a_real_count_model_fit_runs_as_a_task_on_an_executor():
    """One small nutpie fit per forecaster (with and without spillover) submitted to a thread pool."""
    small, _ = simulate_count_panel(4, 40, seed=2, graph="ring", indicator="attacks")
    origin = small.periods[-3]
    forecasters = {"model": count_model_forecaster(True, draws=60, tune=60, chains=1, forecast_draws=200),
                   "bootstrap": BASELINES["bootstrap"]}
    with ThreadPoolExecutor(1) as pool:
        result = run_backtest(small, "attacks", forecasters, [origin], 2, submit=pool.submit, seed=1)
    assert not result.failures, result.failures
    rows = {(r["forecaster"], r["horizon"]): r for r in result.scores}
    assert rows[("model", 1)]["n"] == rows[("bootstrap", 1)]["n"] == 4
    assert rows[("model", 2)]["crps"] > 0 and 0 <= rows[("model", 2)]["coverage90"] <= 1
    assert result.seconds["model"][0] > 0


def test_a_share_model_backtests_through_the_family_forecaster():
    """The service's backtest jobs follow the model's family: a real (tiny) share fit per origin, scored in [0, 1]."""
    from indicators import simulate_share_panel
    from models.evaluation.backtest import family_model_forecaster

    small, _ = simulate_share_panel(4, 40, seed=3, graph="ring")
    forecaster = family_model_forecaster("share", True, draws=60, tune=60, chains=1, forecast_draws=200)
    assert pickle.loads(pickle.dumps(forecaster)) == forecaster
    result = run_backtest(small, "militia_share", {"model": forecaster, "persistence": BASELINES["persistence"]},
                          [small.periods[-3]], 2, seed=1)
    assert not result.failures, result.failures
    rows = {(r["forecaster"], r["horizon"]): r for r in result.scores}
    assert rows[("model", 1)]["n"] == 4
    assert 0 < rows[("model", 2)]["crps"] < 1  # shares: a CRPS above 1 would mean values outside [0, 1]


def test_an_unknown_family_forecaster_fails_with_a_clear_error(panel):
    from models.evaluation.backtest import family_model_forecaster

    result = run_backtest(panel, "deaths", {"model": family_model_forecaster("poisson", True)}, ["2020-06"], 2)
    assert "unknown model family 'poisson'" in result.failures[0]["error"]


@pytest.mark.slow
def test_spillover_model_beats_the_model_without_it_when_the_channel_is_real():
    """Synthetic hhh4 panel where most of each region's level comes from its neighbours' last month."""
    truth_panel, truth = simulate_count_panel(9, 96, seed=11, graph="grid", indicator="attacks",
                                              a=0.5, lam=0.15, phi=0.65, alpha=20.0)
    origins = origins_for(truth_panel, "attacks", 8, 2, 2)
    forecasters = {name: count_model_forecaster(spill, draws=200, tune=200, chains=1, forecast_draws=500)
                   for name, spill in (("model", True), ("no_spillover", False))}
    result = run_backtest(truth_panel, "attacks", forecasters, origins, 2, seed=3)
    assert not result.failures, result.failures
    rows = {(r["forecaster"], r["horizon"]): r for r in result.scores}
    for h in (1, 2):
        with_channel, without = rows[("model", h)]["crps"], rows[("no_spillover", h)]["crps"]
        print(f"h={h}: CRPS with spillover {with_channel:.3f}, without {without:.3f}")
        assert with_channel < without

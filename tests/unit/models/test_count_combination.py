"""A real count fit with the learned combination (models.count.mixture): learned at fit time, kept with the fit,
exact zeros where quiet stays quiet, decay after a record month, a cut that moves the model's share only."""

import numpy as np
import pytest

from indicators import Panel
from models import CountModel
from models.count.mixture import COMPONENTS, REGIMES

N_REGIONS, N_MONTHS = 10, 156


def _shock_panel(seed: int = 0) -> Panel:
    """Quiet regions (zeros throughout), regions with shocks that decay over a year, and at the last month a
    record shock in the last region."""
    rng = np.random.default_rng(seed)
    values = np.zeros((N_REGIONS, N_MONTHS))
    for r in range(3, N_REGIONS):
        values[r] = rng.poisson(2.0, N_MONTHS)
        for start in rng.choice(N_MONTHS - 30, size=4, replace=False):
            peak = rng.integers(200, 1500)
            values[r, start:start + 18] = np.maximum(values[r, start:start + 18], np.round(peak * 0.6 ** np.arange(18)))
    values[-1, -1] = 3000.0
    regions = [{"id": f"C{r}", "name": f"C{r}",
                "neighbours": [f"C{q}" for q in (r - 1, r + 1) if 0 <= q < N_REGIONS]} for r in range(N_REGIONS)]
    return Panel.from_arrays(regions, "2008-01", {"deaths": values})


@pytest.fixture(scope="module")
def combined_fit():
    return CountModel("deaths").fit(_shock_panel(), draws=150, tune=200, chains=1, seed=2, warn=False)


def test_the_combination_is_learned_at_fit_time_and_kept_in_the_fit(combined_fit, tmp_path):
    info = combined_fit.info["combination"]
    assert info["components"] == list(COMPONENTS) and set(info["weights"]) == set(REGIMES)
    assert len(info["training_origins"]) == 7  # 12, 24, ... 84 months back: 60 months of history each
    assert info["training_cells"]["quiet"] > 0 and info["training_cells"]["low"] > 0
    for weights in info["weights"].values():
        assert sum(weights) == pytest.approx(1.0)
    assert combined_fit.state["mix_weights"].shape == (N_REGIONS, len(COMPONENTS))
    path = tmp_path / "fit.nc"
    combined_fit.save(path)
    again = type(combined_fit).load(path)
    np.testing.assert_array_equal(again.forecast(horizon=6, draws=200, seed=4).paths,
                                  combined_fit.forecast(horizon=6, draws=200, seed=4).paths)


def test_quiet_regions_whose_analogues_stayed_quiet_get_exact_zeros_from_them(combined_fit):
    forecast = combined_fit.forecast(horizon=6, draws=2000, seed=1)
    weights = combined_fit.state["mix_weights"][0]
    zero_paths = np.mean((forecast.paths[:, :, 0] == 0).all(axis=1))
    assert zero_paths >= max(0.9, 1.0 - weights[0] - 0.03)  # every analogue and conflictology path, and
    # nearly every model path: a region quiet for 13 years is forecast quiet, most paths exactly zero throughout


def test_after_a_record_month_the_median_falls_below_the_record(combined_fit):
    forecast = combined_fit.forecast(horizon=6, draws=2000, seed=3)
    medians = np.median(forecast.paths[:, :, -1], axis=0)
    assert medians[0] < 3000.0 and medians[-1] < 0.5 * 3000.0
    assert forecast.paths.max() <= 3 * 3000.0


def test_a_cut_changes_only_the_paths_the_model_draws(combined_fit):
    uncut = combined_fit.forecast(horizon=4, draws=1000, seed=5)
    cut = combined_fit.forecast(horizon=4, draws=1000, seed=5, cut=("C8", "C9"))
    changed = (uncut.paths[:, :, -1] != cut.paths[:, :, -1]).any(axis=1)
    share_model = combined_fit.state["mix_weights"][-1, 0]
    assert changed.mean() <= share_model + 0.03
    np.testing.assert_array_equal(uncut.paths[:, 0, :-1], cut.paths[:, 0, :-1])  # step 1: only the target moves

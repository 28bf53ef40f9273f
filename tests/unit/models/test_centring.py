"""The NB dispersion is centred where the data pin each region down against the spread between regions."""

import math

import numpy as np
import pytest

from indicators import simulate_count_panel
from models import CountModel
from models.count.centring import dispersion_centring, log_dispersion_moments


def centring_of(panel):
    model = CountModel("attacks")
    design, state, _ = model.prepare(panel)
    mask = dispersion_centring(design.y, design.y_lag, design.level_lag, design.region_idx, design.has_ne.size)
    np.testing.assert_array_equal(model.data_arrays(design, state)["centred_alpha"], mask)
    return mask


def test_moment_estimate_recovers_the_dispersion_and_its_error():
    rng = np.random.default_rng(4)
    mu, alpha, n = 20.0, 2.0, 4000
    y = rng.negative_binomial(alpha, alpha / (alpha + mu), n)
    estimate, se = log_dispersion_moments(y, np.full(n, mu))
    assert se == pytest.approx(1 / math.sqrt(0.5 * n * (mu / (mu + alpha)) ** 2), rel=0.05)
    assert abs(estimate - math.log(alpha)) < 3 * se + 0.05


def test_poisson_like_counts_carry_no_dispersion_information():
    y = np.random.default_rng(5).poisson(3.0, 500)
    estimate, se = log_dispersion_moments(y, np.full(500, 3.0))
    assert math.isnan(estimate) or se > 1.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alike_dispersions_stay_non_centred(seed):
    # the generator's default: log alpha ~ N(log 5, 0.3), errors ~0.2: a centred scale would funnel
    panel, _ = simulate_count_panel(20, 120, seed=seed)
    assert centring_of(panel).sum() == 0


def test_spread_dispersions_are_centred_where_informed():
    alpha = np.exp(np.linspace(-1.5, 1.5, 12))  # spread ~1 on the log scale, like the UCDP panel
    panel, truth = simulate_count_panel(12, 120, seed=7, alpha=alpha)
    mask = centring_of(panel)
    assert mask.sum() >= 8


def test_a_region_of_zeros_is_never_centred():
    rng = np.random.default_rng(8)
    alphas = [0.3, 1.0, 3.0, 10.0, 0.5, 2.0]
    y = [rng.negative_binomial(a, a / (a + 30.0), 120) for a in alphas] + [np.zeros(120, dtype=int)]
    region_idx = np.repeat(np.arange(len(y)), 120)
    flat = np.concatenate(y).astype(float)
    means = np.where(region_idx < len(alphas), 30.0, 0.0)
    mask = dispersion_centring(flat, means, means, region_idx, len(y))
    assert mask[:len(alphas)].sum() >= 4 and mask[-1] == 0

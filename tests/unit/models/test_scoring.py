"""Scores of sample forecasts against values computed by hand on tiny inputs."""

import math

import numpy as np
import pytest

from models.evaluation import scoring


def col(*values):
    """Samples of one cell: shape (m, 1)."""
    return np.array(values, dtype=float)[:, None]


def obs(value):
    return np.array([value], dtype=float)


class TestCrps:
    def test_point_mass_is_absolute_error(self):
        # CRPS(delta_x, y) = |x - y|
        assert scoring.crps(col(3), obs(7))[0] == pytest.approx(4.0)
        assert scoring.crps(col(5), obs(5))[0] == pytest.approx(0.0)

    def test_two_point_sample(self):
        # samples {0, 2}, y = 1: E|X - y| = (1 + 1) / 2 = 1; E|X - X'| = (0 + 2 + 2 + 0) / 4 = 1
        # CRPS = 1 - 1 / 2 = 0.5
        assert scoring.crps(col(0, 2), obs(1))[0] == pytest.approx(0.5)

    def test_three_point_sample_outside(self):
        # samples {0, 0, 3}, y = 4: E|X - y| = (4 + 4 + 1) / 3 = 3
        # E|X - X'| over 9 pairs: |0-3| appears 4 times -> 12 / 9; CRPS = 3 - 6 / 9 = 2.3333
        assert scoring.crps(col(0, 0, 3), obs(4))[0] == pytest.approx(3 - 6 / 9)

    def test_log1p_scale(self):
        # point mass at 0 vs y = e - 1: |log1p(0) - log1p(e - 1)| = 1
        assert scoring.crps_log1p(col(0), obs(math.e - 1))[0] == pytest.approx(1.0)

    def test_nan_observation_and_nan_samples_are_skipped(self):
        samples = np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]])
        out = scoring.crps(samples, np.array([np.nan, 1.0, 2.0]))
        assert np.isnan(out[0]) and np.isnan(out[1])
        assert out[2] == pytest.approx(0.0)

    def test_shapes_must_match(self):
        with pytest.raises(ValueError, match="draws"):
            scoring.crps(np.zeros((4, 3)), np.zeros(2))


class TestDawidSebastiani:
    def test_two_point_sample(self):
        # samples {0, 2}: mean 1, unbiased variance 2; y = 3: (3 - 1)^2 / 2 + log 2 = 2 + 0.6931
        assert scoring.dawid_sebastiani(col(0, 2), obs(3))[0] == pytest.approx(2 + math.log(2))

    def test_point_mass_uses_variance_floor(self):
        # point mass at 0, y = 2: variance floored at 1/12 -> 4 * 12 + log(1/12) = 45.515
        assert scoring.dawid_sebastiani(col(0), obs(2))[0] == pytest.approx(48 + math.log(1 / 12))
        assert scoring.dawid_sebastiani(col(1, 1, 1), obs(1))[0] == pytest.approx(math.log(1 / 12))


class TestPitCoverage:
    def test_point_mass_at_zero_observed_zero(self):
        # F(-1) = 0, F(0) = 1: the PIT is uniform on [0, 1].
        # 90%: overlap of [0, 1] with [0.05, 0.95] = 0.9 -> 0.9 / 1 = 0.9
        # 50%: overlap with [0.25, 0.75] = 0.5
        assert scoring.pit_coverage(col(0), obs(0), 0.9)[0] == pytest.approx(0.9)
        assert scoring.pit_coverage(col(0), obs(0), 0.5)[0] == pytest.approx(0.5)
        # ... while the closed interval [0, 0] "covers" it fully
        assert scoring.interval_hit(col(0), obs(0), 0.9)[0] == 1.0

    def test_point_mass_missed(self):
        # point mass at 0, y = 3: F(2) = F(3) = 1, PIT = 1 outside [0.05, 0.95]
        assert scoring.pit_coverage(col(0), obs(3), 0.9)[0] == 0.0
        assert scoring.interval_hit(col(0), obs(3), 0.9)[0] == 0.0

    def test_four_samples(self):
        x = col(0, 0, 1, 5)
        # y = 0: PIT on [0, 0.5]; 90%: overlap [0.05, 0.5] = 0.45 / 0.5 = 0.9; 50%: [0.25, 0.5] -> 0.5
        assert scoring.pit_coverage(x, obs(0), 0.9)[0] == pytest.approx(0.9)
        assert scoring.pit_coverage(x, obs(0), 0.5)[0] == pytest.approx(0.5)
        # y = 5: PIT on [0.75, 1]; 90%: [0.75, 0.95] = 0.2 / 0.25 = 0.8; 50%: [0.75, 0.75] = 0
        assert scoring.pit_coverage(x, obs(5), 0.9)[0] == pytest.approx(0.8)
        assert scoring.pit_coverage(x, obs(5), 0.5)[0] == pytest.approx(0.0)
        # y = 3: no sample mass at 3, PIT is the point F(3) = 0.75, inside both closed intervals
        assert scoring.pit_coverage(x, obs(3), 0.9)[0] == 1.0
        assert scoring.pit_coverage(x, obs(3), 0.5)[0] == 1.0
        # closed 90% interval by inverted CDF: [0, 5]
        assert scoring.interval_hit(x, obs(5), 0.9)[0] == 1.0
        assert scoring.interval_hit(x, obs(6), 0.9)[0] == 0.0

    def test_level_must_be_a_probability(self):
        with pytest.raises(ValueError, match="level"):
            scoring.pit_coverage(col(0), obs(0), 90)


class TestBrier:
    def test_exceedance_in_the_month(self):
        # samples {0, 0, 1, 5}: P(X >= 1) = 0.5; y = 1 -> (0.5 - 1)^2 = 0.25
        assert scoring.brier_exceed(col(0, 0, 1, 5), obs(1), 1)[0] == pytest.approx(0.25)
        # P(X >= 25) = 0; y = 30 -> (0 - 1)^2 = 1
        assert scoring.brier_exceed(col(0, 0, 1, 5), obs(30), 25)[0] == pytest.approx(1.0)

    def test_any_month_within_h(self):
        # two paths over 2 months, one region: path A (0, 2), path B (0, 0)
        paths = np.array([[[0.0], [2.0]], [[0.0], [0.0]]])
        observed = np.array([[0.0], [3.0]])
        # h = 1: P(any >= 1) = 0, event 0 -> 0; h = 2: P = 0.5, event 1 -> 0.25
        np.testing.assert_allclose(scoring.brier_within(paths, observed, 1), [[0.0], [0.25]])

    def test_within_skips_after_a_missing_month(self):
        paths = np.zeros((3, 3, 1))
        observed = np.array([[0.0], [np.nan], [0.0]])
        out = scoring.brier_within(paths, observed, 1)[:, 0]
        assert out[0] == 0.0 and np.isnan(out[1]) and np.isnan(out[2])


class TestLogScore:
    def test_point_mass_on_the_outcome(self):
        # kernel mass of 0 from a point mass at 0: Phi(log(1.5) / 0.05) = 1 (to 1e-15);
        # p = (1 - 1e-3) * 1 + 1e-3 * 1 / (1 * 2) = 0.9995 -> -log p = 5.0013e-4
        assert scoring.log_score(col(0), obs(0))[0] == pytest.approx(-math.log(0.9995), rel=1e-6)

    def test_missed_outcome_is_finite_through_the_reference_pmf(self):
        # point mass at 0, y = 100: kernel mass ~ 0, p = 1e-3 / (101 * 102)
        assert scoring.log_score(col(0), obs(100))[0] == pytest.approx(-math.log(1e-3 / (101 * 102)), rel=1e-6)

    def test_pmf_sums_to_one(self):
        samples = np.repeat(col(0, 3, 10, 40), 1, axis=1)
        support = np.arange(0, 20000, dtype=float)
        pmf = scoring.count_pmf(np.repeat(samples, support.size, axis=1), support)
        # the reference pmf's tail beyond 20000 is 1/20001 of its weight 1e-3
        assert pmf.sum() == pytest.approx(1.0 - 1e-3 / 20001, abs=1e-6)


def test_score_paths_keys_and_shapes():
    rng = np.random.default_rng(0)
    paths = rng.poisson(3, size=(50, 3, 4)).astype(float)
    observed = np.array([[1.0, 2, np.nan, 4], [1, 2, 3, 4], [0, 0, 0, 0]])
    out = scoring.score_paths(paths, observed, k=(1, 25))
    assert set(out) == {"crps", "crps_log1p", "dss", "logs", "coverage50", "coverage90", "hit90_closed",
                        "ign", "mis", "sample_max", "brier_1", "brier_25", "brier_within_1", "brier_within_25"}
    assert out["sample_max"][1, 0] == paths[:, 1, 0].max() and np.isnan(out["sample_max"][0, 2])
    assert all(v.shape == (3, 4) for v in out.values())
    assert np.isnan(out["crps"][0, 2]) and np.isfinite(out["crps"][1, 2])
    assert np.isfinite(out["logs"][0, [0, 1, 3]]).all() and np.isnan(out["logs"][1:]).all()


class TestChallengeScores:
    """The ViEWS 2023/24 challenge's ignorance score and 90% interval score, checked by hand."""

    # 10 samples; bins: {0} x5, 1-2 x1, 3-5 x1, 6-10 x1, 26-50 x1, >=1001 x1
    samples = col(0, 0, 1, 3, 7, 30, 2000, 0, 0, 0)

    def test_ignorance_counts_the_observed_bin_with_one_pseudo_count_per_bin(self):
        # 11 bins, 10 samples: p = (hits + 1) / 21
        assert scoring.ignorance(self.samples, obs(0))[0] == pytest.approx(-math.log2(6 / 21))
        assert scoring.ignorance(self.samples, obs(2))[0] == pytest.approx(-math.log2(2 / 21))
        assert scoring.ignorance(self.samples, obs(4))[0] == pytest.approx(-math.log2(2 / 21))
        assert scoring.ignorance(self.samples, obs(15))[0] == pytest.approx(-math.log2(1 / 21))  # 11-25: empty
        assert scoring.ignorance(self.samples, obs(5000))[0] == pytest.approx(-math.log2(2 / 21))  # open top bin

    def test_ignorance_of_a_point_mass_on_the_outcome(self):
        # 1000 zeros, y = 0: p = 1001 / 1011
        assert scoring.ignorance(np.zeros((1000, 1)), obs(0))[0] == pytest.approx(-math.log2(1001 / 1011))

    def test_interval_score_is_width_plus_twenty_times_the_miss(self):
        samples = col(*range(0, 101))  # 0..100: 5% quantile 5, 95% quantile 95
        assert scoring.interval_score_90(samples, obs(50))[0] == pytest.approx(90.0)
        assert scoring.interval_score_90(samples, obs(100))[0] == pytest.approx(90.0 + 20 * 5)
        assert scoring.interval_score_90(samples, obs(0))[0] == pytest.approx(90.0 + 20 * 5)
        assert scoring.interval_score_90(np.zeros((10, 1)), obs(3))[0] == pytest.approx(60.0)

    def test_unobserved_cells_are_not_scored(self):
        assert np.isnan(scoring.ignorance(self.samples, obs(np.nan))[0])
        assert np.isnan(scoring.interval_score_90(self.samples, obs(np.nan))[0])

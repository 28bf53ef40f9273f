"""fit_servable's sizing of a follow-up run and the nutpie settings it samples with."""

import math

import pytest

from models import CountModel
from models.core.errors import SpecError
from models.core.spec import SamplerConfig
from models.fitting.gate import fit_servable, next_run_chains


class TestNextRunChains:
    def test_near_miss_adds_the_first_runs_chains(self):
        # 2 chains gave 380: 400 - 380 = 20 more at 190 a chain -> 1 chain -> rounded up to the 2 cores
        assert next_run_chains(380.0, 2, 2) == 2

    def test_large_shortfall_is_sized_from_the_ess_per_chain(self):
        # 118 from 2 chains (59 a chain): (400 - 118) / 59 = 4.8 -> 5 -> 6 (multiple of 2 cores)
        assert next_run_chains(118.0, 2, 2, max_chains=8) == 6
        # with a 25% margin: (500 - 118) / 59 = 6.5 -> 7 -> 8
        assert next_run_chains(118.0, 2, 2, margin=1.25, max_chains=8) == 8

    def test_capped_at_max_chains(self):
        assert next_run_chains(118.0, 2, 2) == 4  # default cap: two rounds of the 2 cores
        assert next_run_chains(20.0, 2, 2, max_chains=6) == 6

    def test_rhat_only_miss_repeats_the_first_run(self):
        assert next_run_chains(450.0, 2, 2) == 2

    @pytest.mark.parametrize("ess", [math.nan, 0.0])
    def test_no_usable_ess_repeats_the_first_run(self, ess):
        assert next_run_chains(ess, 2, 2) == 2


class TestSamplerConfig:
    def test_nutpie_settings_are_part_of_the_config(self):
        assert SamplerConfig().nutpie_options() == {} and "adaptation" not in SamplerConfig().to_dict()
        config = SamplerConfig(adaptation="low_rank", target_accept=0.9)
        assert config.nutpie_options() == {"adaptation": "low_rank", "target_accept": 0.9}

    @pytest.mark.parametrize(("settings", "message"), [({"adaptation": "flow"}, "adaptation"),
                                                       ({"target_accept": 1.0}, "target_accept")])
    def test_a_bad_nutpie_setting_is_refused(self, settings, message):
        with pytest.raises(SpecError, match=message):
            SamplerConfig(**settings)

    def test_the_services_stored_settings_read_as_a_config(self):
        stored = {"method": "pymc", "draws": 300, "tune": 200, "chains": 4, "seed": 9}
        assert SamplerConfig.from_settings(stored) == SamplerConfig("pymc", 300, 200, 4, 9)


def test_fit_servable_records_adaptation_and_pools_until_the_gate(tiny_panel):
    """An unreachable ESS bar: every run is pooled, the follow-up run sized from the ESS rate, capped."""
    model = CountModel("attacks", form="linear")
    fit, attempts = fit_servable(model, tiny_panel, draws=60, tune=100, chains=2, seed=2, adaptation="low_rank",
                                 max_attempts=2, min_ess_bulk=1e6, max_chains_per_run=4, max_divergences=10**6)
    assert [a["chains"] for a in attempts] == [2, 4]
    assert [a["chains_total"] for a in attempts] == [2, 6]
    assert not attempts[-1]["passed"] and any("ess_bulk_min" in r for r in attempts[-1]["reasons"])
    assert fit.posterior["posterior"].sizes["chain"] == 6
    assert fit.info["sampler"]["adaptation"] == "low_rank"


def test_a_diverging_run_stays_out_of_the_pool_and_the_next_run_takes_smaller_steps(tiny_panel):
    """Tiny tuning (30 steps) makes the first runs diverge on some seeds: those runs are never pooled."""
    diverged = 0
    for seed in (1, 2, 3):
        fit, attempts = fit_servable(CountModel("attacks", form="linear"), tiny_panel, draws=60, tune=30, chains=2,
                                     seed=seed, max_attempts=2, min_ess_bulk=1e6)
        first, second = attempts
        assert first["target_accept"] == 0.8
        assert second["target_accept"] == (0.95 if first["run_divergences"] else 0.8)
        clean = [a for a in attempts if a["run_divergences"] == 0]
        assert fit.diagnostics["divergences"] == (0 if clean else second["run_divergences"])
        assert second["chains_total"] == (sum(a["chains"] for a in clean) if clean else second["chains"])
        diverged += first["run_divergences"] > 0
    assert diverged, "no first run diverged: the test exercised nothing (tune is too long for this panel)"

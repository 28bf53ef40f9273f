"""A fit job tops up a run that misses the gate with more chains, pooled, instead of failing it outright; its
verdict is the last run's, judged once."""

from indicators import simulate_count_panel
from models import CountModel, SamplerConfig, gate
from service.jobs.tasks import FIT_RUNS, fit_until_servable

GATE = {"max_rhat": 1.05, "min_ess_bulk": 100.0, "max_divergences": 1000}


def test_a_one_chain_run_is_topped_up_until_the_pooled_chains_pass():
    panel, _ = simulate_count_panel(4, 48, seed=3)
    sampler = SamplerConfig.from_settings({"method": "nutpie", "draws": 200, "tune": 200, "chains": 1, "seed": 5})
    fit, runs, verdict = fit_until_servable(CountModel("attacks", form="linear"), panel, sampler, GATE)
    # one chain has no R-hat, so the first run cannot pass; the next runs add chains of the same length
    assert runs[0]["chains_total"] == 1 and runs[0]["passed"] is False and runs[0]["rhat_max"] is None
    assert 2 <= len(runs) <= FIT_RUNS
    assert [r["chains_total"] for r in runs] == sorted({r["chains_total"] for r in runs})
    assert fit.posterior["posterior"].sizes["chain"] == runs[-1]["chains_total"] >= 2
    assert fit.posterior["posterior"].sizes["draw"] == 200
    assert runs[-1]["passed"] is gate(fit.diagnostics, **GATE).passed is True
    assert verdict == gate(fit.diagnostics, **GATE)  # the job's verdict is the gate's on the fit it stores


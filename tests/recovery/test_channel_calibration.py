"""Spillover found where it exists and nowhere else: the spillover answer calibrated on synthetic truth (issue 27).

Twenty small panels per truth (4 regions on a ring, 120 months, the generator's hhh4 level form, fitted with
form="linear" so that the truth is one of the model's own parameter values) ask "does R02 reach k within 6
months, and how much of it is R01's?". The truth's own answer is computed from the true parameters at the fit's
origin (Rao-Blackwellised, 20,000 paths, uncut and with the channel cut). Three truths:

- no channel anywhere (phi = 0): the attributable interval reaches 0 (its lower end within one point of it) and
  the posterior probability that the channel adds more than one point stays below 0.5, each in >= 18 of 20;
- one strong channel (phi = 0.3 into R02 only): the interval covers the true attributable in 17-19 of 20 and
  the channel's probability exceeds 0.9 in >= 18;
- several weak channels (every region's phi drawn from the generator's population, 0.02-0.3): the intervals of
  both channels into R02 (from R01 and R03) cover the truth in 85-95% of the 40.

Then the 6-region chain of the issue (A-B-C-D-E-F, a strong channel into B, none into D), fitted with the
default model as an analyst would: the E->D interval includes 0, the A->B interval excludes it.
"""

import numpy as np
import pytest

from indicators import simulate_count_panel
from models import CountModel
from models.events import CHANNEL_MIN_EFFECT
from tests.recovery.channel_truths import loglinear_panel, true_answer

pytestmark = [pytest.mark.slow, pytest.mark.calibration]

TARGET, HORIZON, PANELS = "R02", 6, 20
FIT = dict(draws=500, tune=500, chains=2)
MODEL = dict(combination=None, pool_weight=0.0)
"""The model's own predictive (no combination, no conflictology months mixed in): what the posterior says."""
STRONG = [0.0, 0.35, 0.0, 0.0]


def threshold_of(panel, region: str) -> float:
    """Return the question's threshold: one above the 75th percentile of the region's last 24 months."""
    recent = panel.values("attacks")[list(panel.regions).index(region), -24:]
    return float(np.floor(np.percentile(recent, 75)) + 1)


def ask(seed: int, phi, sources=("R01",)) -> list[dict]:
    """Return one result per source (answer, truth's answer, max R-hat) for one log-linear panel with `phi`."""
    panel, truth = loglinear_panel(seed, phi=phi)
    fit = CountModel("attacks", **MODEL).fit(panel, seed=seed, **FIT)
    threshold = threshold_of(panel, TARGET)
    return [{"answer": fit.spillover(source, TARGET, threshold=threshold, horizon=HORIZON, draws=1000, seed=seed),
             "truth": true_answer(fit, truth, source, TARGET, threshold, HORIZON), "rhat": fit.diagnostics["rhat_max"]}
            for source in sources]


def covered(result: dict) -> bool:
    lo, hi = result["answer"]["attributable_interval"]
    return lo <= result["truth"]["attributable"] <= hi


def report(label: str, results: list[dict]) -> None:
    print(label, "max R-hat", round(max(r["rhat"] for r in results), 4),
          [(round(r["truth"]["attributable"], 3), [round(x, 3) for x in r["answer"]["attributable_interval"]],
            round(r["answer"]["channel_probability"], 2)) for r in results])


def test_without_any_channel_the_answer_finds_none():
    results = [r for seed in range(100, 100 + PANELS) for r in ask(seed, phi=0.0)]
    report("no channel", results)
    reaches_zero = sum(r["answer"]["attributable_interval"][0] <= CHANNEL_MIN_EFFECT for r in results)
    unlikely = sum(r["answer"]["channel_probability"] < 0.5 for r in results)
    print(f"interval reaches 0: {reaches_zero} of {PANELS}; P(channel) < 0.5: {unlikely} of {PANELS}")
    assert reaches_zero >= 18 and unlikely >= 18


def test_one_strong_channel_is_found_and_its_size_covered():
    results = [r for seed in range(200, 200 + PANELS) for r in ask(seed, phi=STRONG)]
    report("one strong channel", results)
    hits = sum(covered(r) for r in results)
    sure = sum(r["answer"]["channel_probability"] > 0.9 for r in results)
    print(f"true attributable inside the 90% interval: {hits} of {PANELS}; P(channel) > 0.9: {sure} of {PANELS}")
    assert 17 <= hits <= 19 and sure >= 18


def test_several_weak_channels_are_covered_at_their_nominal_rate():
    results = [r for seed in range(PANELS)
               for r in ask(seed, phi=np.random.default_rng(seed).uniform(0.05, 0.2, 4), sources=("R01", "R03"))]
    report("several weak channels", results)
    rate = np.mean([covered(r) for r in results])
    print(f"coverage of the 90% interval over {len(results)} channels: {rate:.3f}")
    assert 0.85 <= rate <= 0.95


def test_the_six_region_chain_names_the_real_channel_and_not_the_absent_one():
    ids = list("ABCDEF")
    chain = [{"id": r, "name": r, "neighbours": [ids[j] for j in (i - 1, i + 1) if 0 <= j < len(ids)]}
             for i, r in enumerate(ids)]
    panel, _ = simulate_count_panel(6, 120, seed=7, graph=chain, phi=0.3, phi_targets=["B"])
    fit = CountModel("attacks").fit(panel, seed=7, **FIT)
    answers = {}
    for source, target in (("A", "B"), ("E", "D")):
        recent = panel.values("attacks")[fit.region_index(target), -24:]
        threshold = float(np.floor(np.percentile(recent, 75)) + 1)
        answers[source + target] = fit.spillover(source, target, threshold=threshold, horizon=HORIZON, seed=7)
    print("chain", {k: (round(a["attributable"], 3), [round(x, 3) for x in a["attributable_interval"]],
               round(a["channel_probability"], 2)) for k, a in answers.items()})
    assert answers["ED"]["attributable_interval"][0] <= CHANNEL_MIN_EFFECT
    assert answers["AB"]["attributable_interval"][0] > 0.0

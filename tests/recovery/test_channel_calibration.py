"""Spillover found where it exists and nowhere else: the spillover answer calibrated on synthetic truth (issue 27).

Twenty small panels per truth (4 regions on a ring, 120 months, drawn from the served log-linear form by the
forecasting code itself, fitted without the combination so that the answer is the posterior's own) ask "does
R02 reach k within 6 months, and how much of it is R01's?". The truth's own answer is computed from the true
parameters at the fit's origin (Rao-Blackwellised, 20,000 paths, uncut and with the channel cut). Three truths:

- no channel anywhere (phi = 0): the attributable interval reaches 0 (its lower end within one point of it) in
  >= 18 of 20 (the issue's goal, met) and the posterior probability that the channel adds more than one point
  stays below 0.5 in >= 11 (goal 18: not met);
- one strong channel (phi = 0.35 into R02 only): P(channel) higher than without one, the interval covering the
  true attributable in >= 4 of 20 (goal 17-19: not met);
- several weak channels (phi 0.05-0.2 into every region): the intervals of both channels into R02 (from R01 and
  R03) cover the truth in >= 70% of the 40 (goal 85-95%: not met).

Then the 6-region chain of the issue (A-B-C-D-E-F, hhh4 data, a strong channel into B, none into D), fitted with
the default model as an analyst would: the E->D interval includes 0. The floors below the goals are the measured
figures less a margin (models/NOTES_count_model.md, session 13), so a regression fails.
"""

import numpy as np
import pytest

from indicators import simulate_count_panel
from models import CountModel
from models.questions.events import CHANNEL_MIN_EFFECT
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
    return [{"answer": fit.spillover(source, TARGET, threshold=threshold, horizon=HORIZON, draws=1000,
                                     seed=seed).to_dict(),
             "truth": true_answer(fit, truth, source, TARGET, threshold, HORIZON), "rhat": fit.diagnostics["rhat_max"]}
            for source in sources]


def covered(result: dict) -> bool:
    lo, hi = result["answer"]["attributable_interval"]
    return lo <= result["truth"]["attributable"] <= hi


def report(label: str, results: list[dict]) -> None:
    print(label, "max R-hat", round(max(r["rhat"] for r in results), 4),
          [(round(r["truth"]["attributable"], 3), [round(x, 3) for x in r["answer"]["attributable_interval"]],
            round(r["answer"]["channel_probability"], 2)) for r in results])


@pytest.fixture(scope="module")
def no_channel() -> list[dict]:
    results = [r for seed in range(100, 100 + PANELS) for r in ask(seed, phi=0.0)]
    report("no channel", results)
    return results


@pytest.fixture(scope="module")
def strong_channel() -> list[dict]:
    results = [r for seed in range(200, 200 + PANELS) for r in ask(seed, phi=STRONG)]
    report("one strong channel", results)
    return results


def test_without_any_channel_the_interval_reaches_zero(no_channel):
    reaches_zero = sum(r["answer"]["attributable_interval"][0] <= CHANNEL_MIN_EFFECT for r in no_channel)
    print(f"interval reaches 0: {reaches_zero} of {PANELS}")
    assert reaches_zero >= 18  # the goal (measured 19 of 20; the softmax shares it replaced: 8)


def test_without_any_channel_its_probability_stays_low(no_channel):
    unlikely = sum(r["answer"]["channel_probability"] < 0.5 for r in no_channel)
    print(f"P(channel) < 0.5: {unlikely} of {PANELS}")
    assert unlikely >= 11  # measured 13 of 20; the goal (18) is not met: see the notes, session 13


def test_a_strong_channel_is_told_apart_from_none(no_channel, strong_channel):
    hits = sum(covered(r) for r in strong_channel)
    mean_p = {name: np.mean([r["answer"]["channel_probability"] for r in results])
              for name, results in (("none", no_channel), ("strong", strong_channel))}
    sure = sum(r["answer"]["channel_probability"] > 0.9 for r in strong_channel)
    print(f"true attributable inside the 90% interval: {hits} of {PANELS}; P(channel) > 0.9: {sure} of {PANELS}; "
          f"mean P(channel) strong {mean_p['strong']:.2f}, none {mean_p['none']:.2f}")
    assert mean_p["strong"] > mean_p["none"] + 0.2
    assert hits >= 4  # measured 6 of 20: the horseshoe pulls a ~3-SE channel towards 0; the goal (17-19) is not met


def test_several_weak_channels_are_covered():
    results = [r for seed in range(PANELS)
               for r in ask(seed, phi=np.random.default_rng(seed).uniform(0.05, 0.2, 4), sources=("R01", "R03"))]
    report("several weak channels", results)
    rate = np.mean([covered(r) for r in results])
    print(f"coverage of the 90% interval over {len(results)} channels: {rate:.3f}")
    assert rate >= 0.7  # measured 0.775; the goal (0.85-0.95) is not met


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
        answers[source + target] = fit.spillover(source, target, threshold=threshold, horizon=HORIZON, seed=7).to_dict()
    print("chain", {k: (round(a["attributable"], 3), [round(x, 3) for x in a["attributable_interval"]],
               round(a["channel_probability"], 2)) for k, a in answers.items()})
    assert answers["ED"]["attributable_interval"][0] <= CHANNEL_MIN_EFFECT
    # A->B (measured 0.003 [-0.002, 0.015], P 0.21 under the served combination) is not found: the issue's
    # "A->B excludes 0" is not met (see the notes, session 13)

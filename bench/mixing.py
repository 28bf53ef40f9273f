"""The spread of the mixing diagnostics that unit tests assert on, across sampler seeds.

The unit tests fit tiny panels with short chains (2 x 150-200 draws) and check that the sampler mixed
(bulk ESS, R-hat). Load does not change the draws (nutpie seeds each chain; time never enters), but the
draws of one seed are not fixed either: a cold or warm PyTensor cache, and a compiled model reused in the
process (`models.fitting.sampling`) or compiled fresh, give different floating-point paths (STACK notes), so a
test sees *some* draw of the seed distribution. This prints that distribution, so thresholds are set below
its tail with margin.

    python -m bench.mixing [--seeds 12] [--recovery]   # --recovery: the recovery tests' fast fits instead
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def fits(seed: int) -> dict[str, dict]:
    """Return the diagnostics of the three unit-test fits at sampler seed `seed`."""
    from models import AmountModel, CountModel, ShareModel
    from tests.unit.models.conftest import make_panel as count_panel
    from tests.unit.models.test_amount_model import make_panel as amount_panel
    from tests.unit.models.test_share_model import make_panel as share_panel

    out = {}
    amount = AmountModel(indicator="kg", covariates=[], spillover=True, normalise="target").fit(
        amount_panel(), draws=200, tune=200, chains=2, seed=seed, sampler="nutpie")
    out["amount 2x200"] = amount.diagnostics
    out["count loglinear 2x150"] = CountModel("attacks", form="loglinear").fit(
        count_panel(), draws=150, tune=200, chains=2, seed=seed).diagnostics
    out["share 2x150"] = ShareModel("militia_share").fit(share_panel(), draws=150, tune=200, chains=2,
                                                         seed=seed).diagnostics
    return out


def recovery_fits(seed: int) -> dict[str, dict]:
    """Return the diagnostics of the recovery tests' "fast" fits (run by `make test`) at sampler seed `seed`."""
    from tests.recovery import test_amount_recovery, test_count_recovery, test_share_recovery

    return {name: with_seed(module, seed, *args) for name, module, args in (
        ("count recovery fast", test_count_recovery, ()), ("share recovery fast", test_share_recovery, (True,)),
        ("share recovery fast, no spillover", test_share_recovery, (False,)),
        ("amount recovery fast", test_amount_recovery, ()))}


def with_seed(module, seed: int, *args) -> dict:
    """Return the diagnostics of `module.run("fast", *args)` with its sampler seed replaced by `seed`."""
    from models.fitting.family_model import FamilyModel

    original = FamilyModel.fit

    def seeded(self, *args, **kwargs):
        return original(self, *args, **{**kwargs, "seed": seed})

    FamilyModel.fit = seeded
    try:
        return module.run("fast", *args)["fit"].diagnostics
    finally:
        FamilyModel.fit = original


def main() -> None:
    """Print per-fit quantiles of bulk ESS min and R-hat max and the most divergences across seeds; returns nothing."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--recovery", action="store_true")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in range(1, args.seeds + 1):
        for name, d in (recovery_fits(seed) if args.recovery else fits(seed)).items():
            rows.setdefault(name, []).append((d["ess_bulk_min"], d["rhat_max"], d["divergences"]))
            print(json.dumps({"seed": seed, "fit": name, "ess_bulk_min": round(d["ess_bulk_min"], 1),
                              "rhat_max": round(d["rhat_max"], 4), "divergences": d["divergences"]}), flush=True)
    for name, values in rows.items():
        ess, rhat, divergences = np.array(values).T
        print(f"{name}: {len(ess)} seeds; bulk ESS min: min {ess.min():.1f}, 10% {np.quantile(ess, 0.1):.1f}, "
              f"median {np.median(ess):.1f}; R-hat max: median {np.median(rhat):.3f}, "
              f"90% {np.quantile(rhat, 0.9):.3f}, max {rhat.max():.3f}; divergences: max {divergences.max():.0f}")


if __name__ == "__main__":
    main()

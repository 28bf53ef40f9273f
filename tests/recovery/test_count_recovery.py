"""Parameter recovery of the count model (form="linear", the generator's hhh4 level form).

One fit per size on `simulate_count_panel` with spillover (phi = 0.3) into half of the regions
only, none into the others; the
last 6 months are held out to check forecast coverage. Interval asserts print both numbers.
"""

import numpy as np
import pytest

from indicators import simulate_count_panel
from models import CountModel

HOLD_OUT = 6
SIZES = {
    "fast": dict(n_regions=9, n_periods=126, draws=300, tune=300),
    "slow": dict(n_regions=20, n_periods=206, draws=800, tune=800),
}


def run(size: str) -> dict:
    cfg = SIZES[size]
    ids = [f"R{i + 1:02d}" for i in range(cfg["n_regions"])]
    targets = ids[::2]
    panel, truth = simulate_count_panel(cfg["n_regions"], cfg["n_periods"], seed=7, graph="grid",
                                         phi=0.3, phi_targets=targets)
    train = panel.until(panel.periods[-HOLD_OUT - 1])
    fit = CountModel("attacks", form="linear").fit(train, draws=cfg["draws"], tune=cfg["tune"], chains=2, seed=3)
    post = fit.posterior["posterior"]

    def interval(name):
        v = post[name].values.reshape(-1, len(ids))
        return np.quantile(v, 0.05, axis=0), np.quantile(v, 0.95, axis=0), v.mean(axis=0)

    fc = fit.forecast(horizon=HOLD_OUT, draws=2000, seed=1)
    lo, hi = np.quantile(fc.paths, [0.05, 0.95], axis=0)
    held = truth.values[:, -HOLD_OUT:].T
    return {"truth": truth, "fit": fit, "lam": interval("lam"), "phi": interval("phi"), "alpha": interval("alpha"),
            "coverage": float(((held >= lo) & (held <= hi)).mean()), "targets": np.isin(ids, targets)}


def inside_share(result, name, mask=None) -> float:
    lo, hi, mean = result[name]
    true = getattr(result["truth"], name)
    ok = (true >= lo) & (true <= hi)
    for r, (t, m, a, b) in enumerate(zip(true, mean, lo, hi)):
        print(f"{name}[{r}] true {t:.3f} posterior mean {m:.3f} 90% [{a:.3f}, {b:.3f}] {'in' if ok[r] else 'OUT'}")
    return float(ok[mask].mean() if mask is not None else ok.mean())


# Mixing limits per size. The fast fit (2 x 300 draws, in `make test`) is not one fixed draw: a cold or warm
# compile cache and a reused compiled model move its floating-point path (bench/mixing.py), so its limits sit
# above what `python -m bench.mixing --recovery` measured in 12 fits of seeds 1-10 (seeds 1 and 2 twice, in two
# processes: R-hat 1.028 and 1.017 for one seed): R-hat max 1.013-1.044, divergences 0-3, where the old limits
# 1.05 / 5 left a margin of 0.006 and 2 (with the horseshoe neighbour coefficient, seeds 1-10: R-hat max
# 1.013-1.027, no divergence); a stuck chain still fails them (R-hat far above 1.1).
CONVERGED = {"fast": {"max_rhat": 1.1, "max_divergences": 15}, "slow": {"max_rhat": 1.05, "max_divergences": 5}}


@pytest.fixture(scope="module", params=["fast", pytest.param("slow", marks=pytest.mark.slow)])
def result(request):
    return run(request.param)


class TestRecovery:
    def test_sampler_converged_reasonably(self, result, request):
        d, limits = result["fit"].diagnostics, CONVERGED[request.node.callspec.params["result"]]
        print(d)
        assert d["rhat_max"] < limits["max_rhat"] and d["divergences"] <= limits["max_divergences"], d

    def test_lambda_inside_90_percent_interval_for_most_regions(self, result):
        assert inside_share(result, "lam") >= 0.65

    def test_dispersion_inside_90_percent_interval_for_most_regions(self, result):
        assert inside_share(result, "alpha") >= 0.65

    def test_phi_inside_90_percent_interval_where_spillover_is_true(self, result):
        assert inside_share(result, "phi", result["targets"]) >= 0.6

    def test_spillover_found_where_true_and_near_zero_where_absent(self, result):
        _, hi, mean = result["phi"]
        targets = result["targets"]
        print("posterior mean phi with spillover", mean[targets].round(3), "without", mean[~targets].round(3))
        assert mean[targets].mean() > 2 * mean[~targets].mean()
        assert np.median(mean[~targets]) < 0.08

    def test_held_out_90_percent_interval_coverage(self, result):
        print("held-out 90% coverage", result["coverage"])
        assert 0.75 <= result["coverage"] <= 1.0

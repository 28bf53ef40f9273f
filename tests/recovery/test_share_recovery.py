"""Parameter recovery and calibration of the share model on `simulate_share_panel`.

Per size, two panels from the generator with the same layout: one whose truth has spillover
(psi_r ~ U(0, 0.1)) and one without (psi = 0). The last 6 months are held out to check the
coverage of the forecast's 90% intervals. Interval asserts print both numbers.
"""

import numpy as np
import pytest

from indicators import simulate_share_panel
from models.share import ShareModel

HOLD_OUT = 6
SIZES = {
    "fast": dict(n_regions=9, n_periods=126, draws=300, tune=300, seed=2),
    "slow": dict(n_regions=20, n_periods=206, draws=800, tune=800, seed=5),
}


def run(size: str, spillover: bool) -> dict:
    cfg = SIZES[size]
    panel, truth = simulate_share_panel(cfg["n_regions"], cfg["n_periods"], seed=cfg["seed"], graph="grid",
                                        spillover=spillover)
    train = panel.until(panel.periods[-HOLD_OUT - 1])
    fit = ShareModel(truth.indicator).fit(train, draws=cfg["draws"], tune=cfg["tune"], chains=2, seed=3)
    post = fit.posterior["posterior"]

    def interval(name):
        v = post[name].values.reshape(-1, cfg["n_regions"])
        return np.quantile(v, 0.05, axis=0), np.quantile(v, 0.95, axis=0), v.mean(axis=0)

    fc = fit.forecast(horizon=HOLD_OUT, draws=2000, seed=1)
    lo, hi = np.quantile(fc.paths, [0.05, 0.95], axis=0)
    held = truth.values[:, -HOLD_OUT:].T
    return {"truth": truth, "fit": fit, "rho": interval("rho"), "sigma": interval("sigma"), "psi": interval("psi"),
            "covered": (held >= lo) & (held <= hi)}


def inside(result, name) -> np.ndarray:
    lo, hi, mean = result[name]
    true = getattr(result["truth"], name)
    ok = (true >= lo) & (true <= hi)
    for r, (t, m, a, b) in enumerate(zip(true, mean, lo, hi)):
        print(f"{name}[{r}] true {t:.3f} posterior mean {m:.3f} 90% [{a:.3f}, {b:.3f}] {'in' if ok[r] else 'OUT'}")
    return ok


# The fast fits' R-hat limit (2 x 300 draws, in `make test`) sits above what `python -m bench.mixing --recovery`
# measured over 10 seeds (max 1.029 with spillover, 1.035 without; a cold or warm compile cache moves a seed's
# draws, bench/mixing.py), with margin; a stuck chain still fails it.
MAX_RHAT = {"fast": 1.1, "slow": 1.05}


@pytest.fixture(scope="module", params=["fast", pytest.param("slow", marks=pytest.mark.slow)])
def results(request):
    return {"spill": run(request.param, True), "none": run(request.param, False)}


class TestShareRecovery:
    def test_sampler_converged_reasonably(self, results, request):
        size = request.node.callspec.params["results"]
        for key, result in results.items():
            d = result["fit"].diagnostics
            print(key, d)
            assert d["rhat_max"] < MAX_RHAT[size] and d["divergences"] <= 5, d

    def test_rho_inside_90_percent_interval_for_most_regions(self, results):
        share = np.concatenate([inside(r, "rho") for r in results.values()]).mean()
        print("rho inside", share)
        assert share >= 0.65

    def test_sigma_inside_90_percent_interval_for_most_regions(self, results):
        share = np.concatenate([inside(r, "sigma") for r in results.values()]).mean()
        print("sigma inside", share)
        assert share >= 0.65

    def test_psi_inside_90_percent_interval_where_spillover_is_true(self, results):
        assert inside(results["spill"], "psi").mean() >= 0.65

    def test_spillover_found_where_true_and_near_zero_where_absent(self, results):
        with_spill, without = results["spill"]["psi"][2], results["none"]["psi"][2]
        print("posterior mean psi with spillover", with_spill.round(3), "without", without.round(3))
        assert with_spill.mean() > without.mean()
        assert abs(np.median(without)) < 0.05  # half the top of the truth range U(0, 0.1)
        assert inside(results["none"], "psi").mean() >= 0.8

    def test_held_out_90_percent_interval_coverage(self, results):
        covered = np.concatenate([r["covered"].ravel() for r in results.values()])
        print("held-out 90% coverage", covered.mean(), "of", covered.size, "cells")
        assert 0.75 <= covered.mean() <= 1.0

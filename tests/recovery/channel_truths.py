"""Synthetic truths for the spillover calibration suite: panels drawn from the served model's own log-linear form
(models.count.simulate, the same code that forecasts a fit) or from the generator's hhh4 level form, and the
truth's answer to a spillover question from the true parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from indicators import Panel, simulate_count_panel
from indicators.regions import weights_matrix
from indicators.synthetic.graphs import make_graph
from models.count.simulate import simulate_count

TRUTH_PATHS = 20_000


@dataclass
class ChannelTruth:
    """The parameters a panel was drawn with: `form`, `params` {name: (1, regions)} and, for the log-linear form,
    the centring constant of every lag (`centre`)."""

    form: str
    params: dict[str, np.ndarray]
    centre: float | None = None


def loglinear_panel(seed: int, *, phi, n_regions: int = 4, n_periods: int = 120, graph="ring", level: float = 5.0,
                    lam: float = 0.3, kap: float = 0.25, log_alpha: float = math.log(5.0),
                    burn_in: int = 100) -> tuple[Panel, ChannelTruth]:
    """Return (panel, truth) drawn from the log-linear form: ``log mu = a_r + lam z_own + kap z_level + phi_r
    z_ne`` with every lag centred at log1p(`level`), a_r = log(level) + N(0, 0.3), NB size exp(log_alpha) rising
    with the 12-month level (slope 0.5). `phi` is a scalar or one value per region (0: no channel into it)."""
    rng = np.random.default_rng(seed)
    regions = make_graph(n_regions, graph)
    ids = [r.id for r in regions]
    weights = np.asarray(weights_matrix(regions, ids, "target"), dtype=float)
    n = len(ids)
    phi_r = np.broadcast_to(np.asarray(phi, dtype=float), (n,)).copy()
    params = {"a": (math.log(level) + rng.normal(0.0, 0.3, n))[None], "lam": np.full((1, n), lam),
              "kap": np.full((1, n), kap), "phi": phi_r[None], "log_alpha": np.full((1, n), log_alpha),
              "alpha_slope": np.array([0.5])}
    centre = math.log1p(level)
    state = {"weights": weights, "alive": np.ones(n, bool), "has_ne": weights.sum(axis=0) > 0,
             "window": np.full((n, 12), level), "x_last": np.zeros((n, 0)), **centred(n, centre)}
    uniforms = rng.random((1, burn_in + n_periods, n))
    paths = simulate_count("loglinear", params, state, idx=np.zeros(1, int), uniforms=uniforms)
    panel = Panel.from_arrays(regions, "2010-01", {"attacks": paths[0, burn_in:].T}, "target")
    return panel, ChannelTruth("loglinear", params, centre)


def linear_panel(seed: int, n_periods: int = 120, **options) -> tuple[Panel, ChannelTruth]:
    """Return (panel, truth) from the generator's hhh4 level form (indicators.simulate_count_panel), 4 regions on
    a ring; `options` are simulate_count_panel's (spillover, phi, phi_targets)."""
    panel, truth = simulate_count_panel(4, n_periods, seed=seed, graph="ring", **options)
    params = {name: np.asarray(getattr(truth, name), dtype=float)[None, :] for name in ("a", "lam", "phi", "alpha")}
    return panel, ChannelTruth("linear", params)


def centred(n_regions: int, centre: float) -> dict[str, np.ndarray]:
    """Return the log-linear lags' centring constants of a simulation state, all at `centre`."""
    return {"c_own": np.full(n_regions, centre), "c_level": np.full(n_regions, centre),
            "c_ne": np.full(n_regions, centre), "c_disp": np.array([centre])}


def true_answer(fit, truth: ChannelTruth, source: str, target: str, threshold: float, horizon: int) -> dict:
    """Return the truth's probability and attributable for "does `target` reach `threshold` within `horizon`, and
    how much of it is `source`'s", simulated from the true parameters at the fit's origin (TRUTH_PATHS paths
    conditioned on no crossing, uncut and with the channel cut, on the same random numbers)."""
    state = dict(fit.state)
    state.pop("mix_weights", None)
    if truth.centre is not None:
        state |= centred(len(fit.regions), truth.centre)
    uniforms = np.random.default_rng(99).random((TRUTH_PATHS, horizon, len(fit.regions)))
    t = fit.region_index(target)
    stay = [simulate_count(truth.form, truth.params, state, idx=np.zeros(TRUTH_PATHS, int), uniforms=uniforms,
                           cut=cut, condition=(t, threshold))[1]
            for cut in (None, (fit.region_index(source), t))]
    return {"probability": 1.0 - stay[0].mean(), "attributable": float((stay[1] - stay[0]).mean())}

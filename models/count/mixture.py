"""The served count forecast: the fitted NB model mixed, path by path, with analogues and the conflictology.

Each region's paths come whole from one of three components: the fitted model (models.count.simulate), the
region's analogues (models.count.analogue: what followed the most similar states of every region's history) or the
conflictology (each month drawn from the region's last 12 observed months, ViEWS' benchmark). A path's
component is drawn with the weights of the region's *regime* at the origin -- quiet (no positive month in the
last 12), low (some, but under 25 a month in the last 3), high (25 or more in one of the last 3) -- from the
step-1 uniform of that path and region, the way models.count.tails stacks its pool. A cut run uses the same
uniforms, so every path takes the same component in both runs and a channel's effect is the model share's.

The weights are learned when the model is fitted: at up to 8 origins 12, 24, ... months before the fit's last
month, the fitted posterior is simulated from the state observed then (a *backcast*), the analogues and the
conflictology forecast from that origin, and per regime the weights minimising the mixture's exact CRPS
(models.combination) over the months observed since are kept. Only months up to the fit's last month are
read; the posterior itself has seen them (the backcast is in sample), which models/NOTES_count_model.md
measures against weights learned from honest past fits.
"""

from __future__ import annotations

import numpy as np

from models.combination import best_weights, mixture_terms
from models.count.analogue import analogue_futures

COMPONENTS = ("model", "analogue", "bootstrap")
REGIMES = ("quiet", "low", "high")
HIGH_DEATHS = 25
"""A month with at least this many in the last ``HIGH_MONTHS`` makes the regime "high"."""
HIGH_MONTHS = 3
QUIET_MONTHS = 12
ANALOGUE_STEPS = 14
"""Steps of analogue future kept per region; an analogue path goes on with conflictology months after them."""
TRAINING_ORIGINS = 8
LEARN_STEPS = 12
MIN_HISTORY = 60
BACKCAST_DRAWS = 250
WEIGHT_STEP = 0.05
CENTRING = ("c_own", "c_level", "c_ne", "c_disp", "c_vol")
MODEL_ONLY = np.array([1.0, 0.0, 0.0])


def regimes_of(window: np.ndarray) -> np.ndarray:
    """Return each region's regime index into REGIMES (regions,) from its last observed months (regions, months)."""
    recent = np.nan_to_num(np.asarray(window, dtype=float)[:, -QUIET_MONTHS:], nan=0.0)
    quiet = recent.max(axis=1) <= 0
    high = recent[:, -HIGH_MONTHS:].max(axis=1) >= HIGH_DEATHS
    return np.where(quiet, 0, np.where(high, 2, 1))


def pool_draws(window: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Return conflictology months (..., regions) read at ``uniforms`` (..., regions) from each region's observed
    months of ``window`` (regions, months); NaN for a region with none."""
    pool = np.sort(np.asarray(window, dtype=float), axis=1)
    sizes = np.isfinite(pool).sum(axis=1)
    pick = np.minimum((uniforms * sizes).astype(int), np.maximum(sizes - 1, 0))
    out = pool[np.arange(pool.shape[0]), pick]
    return np.where(sizes > 0, out, np.nan)


def region_weights(regime_weights: np.ndarray, window: np.ndarray, futures: np.ndarray) -> np.ndarray:
    """Return per-region component weights (regions, 3): their regime's, with a component a region lacks (no
    analogue state, no observed month) given to the model."""
    weights = np.asarray(regime_weights, dtype=float)[regimes_of(window)].copy()
    weights[~np.isfinite(futures).all(axis=(1, 2)), 1] = 0.0
    weights[~np.isfinite(window).any(axis=1), 2] = 0.0
    weights[:, 0] = 1.0 - weights[:, 1:].sum(axis=1)
    return weights


class PathMixture:
    """Which component every (path, region) takes, and the analogue and conflictology values of the fixed ones.

    Built from a fit's state (``mix_weights``, ``analogue_futures``, ``window``) and the simulation's uniforms
    (draws, horizon, regions); ``model_only`` (a region index or None) forces the model for that region (a
    conditioned forecast: see `no_crossing`).
    """

    def __init__(self, state: dict[str, np.ndarray], uniforms: np.ndarray, model_only: int | None = None) -> None:
        self.weights = np.asarray(state["mix_weights"], dtype=float)
        self.futures = np.asarray(state["analogue_futures"], dtype=float)
        self.window = np.asarray(state["window"], dtype=float)
        draws, horizon, n_regions = uniforms.shape
        w = self.weights.copy()
        if model_only is not None:
            w[model_only] = MODEL_ONLY
        u0 = uniforms[:, 0, :]
        to_analogue, to_pool = w[:, 1][None, :], (w[:, 1] + w[:, 2])[None, :]
        self.source = np.where(u0 < to_analogue, 1, np.where(u0 < to_pool, 2, 0))
        self.model_u0 = np.clip((u0 - to_pool) / np.maximum(w[:, 0][None, :], 1e-12), 1e-12, 1 - 1e-12)
        pool_uniforms = uniforms.copy()  # a conflictology path's first month: its uniform rescaled to [0, 1)
        pool_uniforms[:, 0, :] = np.clip((u0 - to_analogue) / np.maximum(w[:, 2][None, :], 1e-12), 0.0, 1 - 1e-12)
        fixed = pool_draws(self.window, pool_uniforms)  # conflictology months everywhere, analogues written over
        n_futures = self.futures.shape[1]
        paths, regions = np.nonzero(self.source == 1)
        if paths.size:
            pick = np.minimum((u0[paths, regions] / to_analogue[0, regions] * n_futures).astype(int), n_futures - 1)
            steps = min(horizon, self.futures.shape[2])
            fixed[paths, :steps, regions] = self.futures[regions, pick, :steps]
        self.fixed = fixed

    def first_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Return the step-1 uniforms (draws, regions) with the model's paths rescaled to their own interval."""
        return np.where(self.source == 0, self.model_u0, u)

    def apply(self, y: np.ndarray, h: int) -> np.ndarray:
        """Return step ``h``'s values (draws, regions) with the analogue and conflictology paths written in."""
        return np.where(self.source == 0, y, self.fixed[:, h, :])

    def no_crossing(self, region: int, threshold: float, horizon: int, model_no_crossing: np.ndarray) -> np.ndarray:
        """Return each path's probability that ``region`` never reaches ``threshold`` under the mixture: the model
        path's own (Rao-Blackwellised) probability weighted with the analogue's and the conflictology's exact ones."""
        w_model, w_analogue, w_pool = self.weights[region]
        pool = self.window[region][np.isfinite(self.window[region])]
        pool_below = float(np.mean(pool < threshold)) if pool.size else 1.0
        steps = min(horizon, self.futures.shape[2])
        analogue_below = 0.0
        if w_analogue > 0:
            stays = (self.futures[region, :, :steps] < threshold).all(axis=1).mean()
            analogue_below = float(stays) * pool_below ** (horizon - steps)
        return w_model * model_no_crossing + w_analogue * analogue_below + w_pool * pool_below ** horizon


def learn_regime_weights(backcasts, values: np.ndarray, steps: int = LEARN_STEPS) -> tuple[np.ndarray, dict]:
    """Return (weights (regimes, 3), cells per regime) minimising each regime's mixture CRPS.

    ``backcasts`` yields (origin index t, model paths (draws, steps, regions)); the analogue and conflictology
    paths are made here from ``values`` (regions, months) up to t, and scored on months t+1..t+steps, which
    must lie within ``values``.
    """
    sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    cells = {name: 0 for name in REGIMES}
    for t, model_paths in backcasts:
        history = values[:, : t + 1]
        try:
            futures = analogue_futures(history, steps)
        except ValueError:
            continue
        draws = model_paths.shape[0]
        rng = np.random.default_rng([t, 11])
        analogue = np.take_along_axis(futures, rng.integers(0, futures.shape[1], (futures.shape[0], draws))[:, :, None],
                                      axis=1).transpose(1, 2, 0)
        window = history[:, -QUIET_MONTHS:]
        pool = pool_draws(window, rng.random((draws, steps, values.shape[0])))
        observed = values[:, t + 1: t + 1 + steps].T
        regimes = regimes_of(window)
        components = (model_paths, analogue, pool)
        finite = np.isfinite(observed) & np.logical_and.reduce([np.isfinite(c).all(axis=0) for c in components])
        for g in range(len(REGIMES)):
            mask = finite & (regimes == g)[None, :]
            if not mask.any():
                continue
            a, b = mixture_terms([c[:, mask] for c in components], observed[mask])
            previous = sums.get(g)
            sums[g] = (a, b) if previous is None else (previous[0] + a, previous[1] + b)
            cells[REGIMES[g]] += int(mask.sum())
    weights = np.array([best_weights(*sums[g], step=WEIGHT_STEP) if g in sums else MODEL_ONLY
                        for g in range(len(REGIMES))])
    return weights, cells


def training_origins(n_months: int) -> list[int]:
    """Return the training origin indices (newest first): 12, 24, ... months before the last month, each with
    ``MIN_HISTORY`` months before it and ``LEARN_STEPS`` observed after it."""
    last = n_months - 1
    picks = [last - 12 * k for k in range(1, TRAINING_ORIGINS + 1)]
    return [t for t in picks if t >= MIN_HISTORY and t + LEARN_STEPS <= last]

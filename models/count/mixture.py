"""The served count forecast: the fitted NB model mixed, path by path, with analogues and the conflictology.

Each region's paths come whole from one of five components: the fitted model (models.count.simulate), the region's
analogues matched on its last 6 or its last 4 months (models.count.analogue: what followed the most similar states
of every region's history), the conflictology (each month drawn from the region's last 12 observed months, ViEWS'
benchmark) or its short form (from the last 3). A path's component is drawn with the weights of the region's
*regime* at the origin -- quiet (no positive month in the last 12), low (some, but under 25 a month in the last 3),
high (25 or more in one of the last 3) -- from the step-1 uniform of that path and region, the way
models.count.tails stacks its pool. A cut run uses the same uniforms, so every path takes the same component in
both runs and a channel's effect is the model share's.

The weights are learned when the model is fitted: at up to 8 origins 12, 24, ... months before the fit's last
month, the fitted posterior is simulated from the state observed then (a *backcast*), the other components
forecast from that origin, and per regime the weights minimising the mixture's exact CRPS (models.combination)
over the months observed since are kept. Only months up to the fit's last month are read; the posterior itself
has seen them (the backcast is in sample), which models/NOTES_count_model.md measures against weights learned
from honest past fits.
"""

from __future__ import annotations

import numpy as np

from models.count.analogue import analogue_paths
from models.count.tails import recent_pool
from models.evaluation.combination import best_weights, mixture_terms, quiet_regions
from models.fitting.design import last_window

COMPONENTS = ("model", "analogue", "bootstrap", "recent", "analogue4")
ANALOGUE_SHAPES = {"analogue": 6, "analogue4": 4}
"""Each analogue component and the months of recent shape it matches (models.count.analogue): the 4-month one was
added beside the 6-month one by measurement on the world panel's 17 windows (models/NOTES_count_model.md)."""
FUTURES_KEYS = {name: f"{name}_futures" for name in ANALOGUE_SHAPES}
"""The fit state's array of each analogue component's futures (regions, neighbours, ANALOGUE_STEPS)."""
POOL_MONTHS = {"bootstrap": 12, "recent": 3}
"""The conflictology components: each month drawn from the region's last 12 (ViEWS' benchmark) or last 3 observed
months (a short memory: measured beside the 12, see models/NOTES_count_model.md)."""
REGIMES = ("quiet", "low", "high")
HIGH_DEATHS = 25
"""A month with at least this many in the last ``HIGH_MONTHS`` makes the regime "high"."""
HIGH_MONTHS = 3
ANALOGUE_STEPS = 14
"""Steps of analogue future kept per region; an analogue path goes on with conflictology months after them."""
TRAINING_ORIGINS = 8
LEARN_STEPS = 12
MIN_HISTORY = 60
BACKCAST_DRAWS = 250
WEIGHT_STEP = 0.05
LEVEL_DISCOUNT = 0.5
"""A training cell counts (1 + its region's mean month over the 12 before the training origin) ** -LEVEL_DISCOUNT
times in the learning: a war's cells (CRPS grows with the level) would otherwise decide every regime's weights
alone. Chosen on the world panel's 17 windows (models/NOTES_count_model.md, session 16)."""
CENTRING = ("c_own", "c_level", "c_ne", "c_disp", "c_vol")
MODEL_ONLY = np.array([1.0] + [0.0] * (len(COMPONENTS) - 1))


def regimes_of(window: np.ndarray) -> np.ndarray:
    """Return each region's regime index into REGIMES (regions,) from its last observed months (regions, months)."""
    recent = np.nan_to_num(np.asarray(window, dtype=float)[:, -HIGH_MONTHS:], nan=0.0)
    return np.where(quiet_regions(window), 0, np.where(recent.max(axis=1) >= HIGH_DEATHS, 2, 1))


def level_discount(window: np.ndarray) -> np.ndarray:
    """Return each region's learning weight (regions,): (1 + mean of its last observed months in ``window``, a
    missing month as 0) ** -LEVEL_DISCOUNT."""
    return (1.0 + np.nan_to_num(np.asarray(window, dtype=float), nan=0.0).mean(axis=1)) ** -LEVEL_DISCOUNT


def pool_draws(window: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Return conflictology months (..., regions) read at ``uniforms`` (..., regions) from each region's observed
    months of ``window`` (regions, months); NaN for a region with none."""
    pool, sizes = recent_pool(window)
    pick = np.minimum((uniforms * sizes).astype(int), np.maximum(sizes - 1, 0))
    out = pool[np.arange(pool.shape[0]), pick]
    return np.where(sizes > 0, out, np.nan)


def pool_windows(window: np.ndarray) -> dict[str, np.ndarray]:
    """Return each conflictology component's months (regions, months) from the last 12 observed (``window``)."""
    window = np.asarray(window, dtype=float)
    return {name: window[:, -months:] for name, months in POOL_MONTHS.items()}


def region_weights(regime_weights: np.ndarray, window: np.ndarray, futures: dict[str, np.ndarray]) -> np.ndarray:
    """Return per-region component weights (regions, components): their regime's, with a component a region lacks
    (no analogue state, no observed month) given to the model. ``futures`` maps each analogue component to its
    futures (regions, neighbours, steps)."""
    weights = np.asarray(regime_weights, dtype=float)[regimes_of(window)].copy()
    for name, component_futures in futures.items():
        weights[~np.isfinite(component_futures).all(axis=(1, 2)), COMPONENTS.index(name)] = 0.0
    for name, months in pool_windows(window).items():
        weights[~np.isfinite(months).any(axis=1), COMPONENTS.index(name)] = 0.0
    weights[:, 0] = 1.0 - weights[:, 1:].sum(axis=1)
    return weights


class PathMixture:
    """Which component every (path, region) takes, and the analogue and conflictology values of the fixed ones.

    Built from a fit's state (``mix_weights``, ``analogue_futures``, ``window``) and the simulation's uniforms
    (draws, horizon, regions); ``model_only`` (a region index or None) forces the model for that region (a
    conditioned forecast: see `no_crossing`). The step-1 uniform u of a path picks its component: u below the
    analogue's weight an analogue future (u rescaled picks which), then each conflictology's interval, the rest
    the model (u rescaled to [0, 1) for its first month).
    """

    def __init__(self, state: dict[str, np.ndarray], uniforms: np.ndarray, model_only: int | None = None) -> None:
        weights = np.asarray(state["mix_weights"], dtype=float)
        if weights.shape[1] < len(COMPONENTS):  # a version fitted before a component was added: it had none of it
            weights = np.pad(weights, ((0, 0), (0, len(COMPONENTS) - weights.shape[1])))
        self.weights = weights
        self.futures = {name: np.asarray(state[key], dtype=float) for name, key in FUTURES_KEYS.items()
                        if key in state}
        self.pools = pool_windows(state["window"])
        horizon = uniforms.shape[1]
        w = self.weights.copy()
        if model_only is not None:
            w[model_only] = MODEL_ONLY
        u0 = uniforms[:, 0, :]
        upper = np.cumsum(w[:, 1:], axis=1)  # (regions, fixed components): each interval's end
        lower = upper - w[:, 1:]
        self.source = np.zeros(u0.shape, dtype=int)
        for k in range(upper.shape[1] - 1, -1, -1):
            self.source = np.where(u0 < upper[None, :, k], k + 1, self.source)
        self.model_u0 = np.clip((u0 - upper[None, :, -1]) / np.maximum(w[:, 0][None, :], 1e-12), 1e-12, 1 - 1e-12)
        rescaled = np.zeros(u0.shape)  # a fixed path's step-1 uniform rescaled within its component's interval
        for k in range(upper.shape[1]):
            inside = self.source == k + 1
            rescaled = np.where(inside, (u0 - lower[None, :, k]) / np.maximum(w[None, :, k + 1], 1e-12), rescaled)
        rescaled = np.clip(rescaled, 0.0, 1 - 1e-12)
        pool_uniforms = uniforms.copy()
        pool_uniforms[:, 0, :] = rescaled
        months_drawn = {name: pool_draws(months, pool_uniforms) for name, months in self.pools.items()}
        fixed = np.full(uniforms.shape, np.nan)
        for name, drawn in months_drawn.items():
            fixed = np.where((self.source == COMPONENTS.index(name))[:, None, :], drawn, fixed)
        for name, futures in self.futures.items():  # analogue futures, then 12-month conflictology months after them
            analogue = self.source == COMPONENTS.index(name)
            fixed = np.where(analogue[:, None, :], months_drawn["bootstrap"], fixed)
            paths, regions = np.nonzero(analogue)
            if paths.size:
                n_futures = futures.shape[1]
                pick = np.minimum((rescaled[paths, regions] * n_futures).astype(int), n_futures - 1)
                steps = min(horizon, futures.shape[2])
                fixed[paths, :steps, regions] = futures[regions, pick, :steps]
        self.fixed = fixed

    def first_uniforms(self, u: np.ndarray) -> np.ndarray:
        """Return the step-1 uniforms (draws, regions) with the model's paths rescaled to their own interval."""
        return np.where(self.source == 0, self.model_u0, u)

    def apply(self, y: np.ndarray, h: int) -> np.ndarray:
        """Return step ``h``'s values (draws, regions) with the analogue and conflictology paths written in."""
        return np.where(self.source == 0, y, self.fixed[:, h, :])

    def no_crossing(self, region: int, threshold: float, horizon: int, model_no_crossing: np.ndarray) -> np.ndarray:
        """Return each path's probability that ``region`` never reaches ``threshold`` under the mixture: the model
        path's own (Rao-Blackwellised) probability weighted with the other components' exact ones."""
        w = self.weights[region]
        below = {}
        for name, months in self.pools.items():
            pool = months[region][np.isfinite(months[region])]
            below[name] = float(np.mean(pool < threshold)) if pool.size else 1.0
        fixed = sum(w[COMPONENTS.index(name)] * below[name] ** horizon for name in below)
        for name, futures in self.futures.items():
            weight = w[COMPONENTS.index(name)]
            if weight > 0:
                steps = min(horizon, futures.shape[2])
                stays = (futures[region, :, :steps] < threshold).all(axis=1).mean()
                fixed += weight * float(stays) * below["bootstrap"] ** (horizon - steps)
        return w[0] * model_no_crossing + fixed


def learn_regime_weights(backcasts, values: np.ndarray, steps: int = LEARN_STEPS) -> tuple[np.ndarray, dict]:
    """Return (weights (regimes, components), cells per regime) minimising each regime's mixture CRPS.

    ``backcasts`` yields (origin index t, model paths (draws, steps, regions)); the other components'
    paths are made here from ``values`` (regions, months) up to t, and scored on months t+1..t+steps, which
    must lie within ``values``.
    """
    sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    cells = {name: 0 for name in REGIMES}
    for t, model_paths in backcasts:
        history = values[:, : t + 1]
        draws = model_paths.shape[0]
        try:
            analogues = {name: analogue_paths(history, steps, draws=draws, seed=t + k, shape_months=months)
                         for k, (name, months) in enumerate(ANALOGUE_SHAPES.items())}
        except ValueError:
            continue
        rng = np.random.default_rng([t, 11])
        window = last_window(history)
        pools = {name: pool_draws(months, rng.random((draws, steps, values.shape[0])))
                 for name, months in pool_windows(window).items()}
        observed = values[:, t + 1: t + 1 + steps].T
        regimes = regimes_of(window)
        discount = np.broadcast_to(level_discount(window)[None, :], observed.shape)
        by_name = {"model": model_paths, **analogues, **pools}
        components = [by_name[name] for name in COMPONENTS]
        finite = np.isfinite(observed) & np.logical_and.reduce([np.isfinite(c).all(axis=0) for c in components])
        for g in range(len(REGIMES)):
            mask = finite & (regimes == g)[None, :]
            if not mask.any():
                continue
            a, b = mixture_terms([c[:, mask] for c in components], observed[mask], cell_weights=discount[mask])
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

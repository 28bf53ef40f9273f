"""A learned combination of forecasters: mixture weights chosen by CRPS on origins before the forecast origin.

The combined forecast of a region is a mixture: each path comes whole from one component, the component
drawn with the weights of the region's *regime* at the origin ("quiet": no positive month in the last 12;
else "active"). The weights minimise the mixture's CRPS over training origins, every one of which has its
whole forecast window observed by the forecast origin: the combination sees nothing the origin does not.

The CRPS of a mixture with weights w over ensembles X_1..X_K is exact and quadratic in w:
``CRPS(w) = sum_i w_i E|X_i - y| - 1/2 sum_ij w_i w_j E|X_i - X_j'|``, so the per-cell terms are computed once per
training origin and every weight on a simplex grid is scored from them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

REGIMES = ("quiet", "active")
QUIET_MONTHS = 12


def mean_abs_difference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return E|X - Y| per cell for ensembles ``x`` (cells, m) and ``y`` (cells, n) of finite values."""
    cells, n = y.shape
    sorted_y = np.sort(y, axis=1)
    cumulative = np.concatenate([np.zeros((cells, 1)), np.cumsum(sorted_y, axis=1)], axis=1)
    spread = float(max(np.ptp(x), np.ptp(y), 1.0)) * 4 + np.abs(np.concatenate([x.ravel(), y.ravel()])).max()
    offset = (np.arange(cells) * spread)[:, None]  # one sorted array for every cell: searchsorted row by row
    below_count = (np.searchsorted((sorted_y + offset).ravel(), (x + offset).ravel(), side="right").reshape(x.shape)
                   - np.arange(cells)[:, None] * n)
    below_sum = np.take_along_axis(cumulative, below_count, axis=1)
    total = cumulative[:, -1:]
    return ((x * below_count - below_sum) + (total - below_sum - x * (n - below_count))).mean(axis=1) / n


def mixture_terms(components: list[np.ndarray], observed: np.ndarray,
                  cell_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (A (K,), B (K, K)): sums over cells of E|X_i - y| and E|X_i - X_j'|, each cell times its
    ``cell_weights`` entry (cells,) when given.

    ``components`` are ensembles (samples, cells) of the same finite cells, ``observed`` (cells,).
    """
    k = len(components)
    w = np.ones(observed.shape[0]) if cell_weights is None else np.asarray(cell_weights, dtype=float)
    a = np.array([np.abs(c - observed[None, :]).mean(axis=0) @ w for c in components])
    b = np.zeros((k, k))
    for i, j in itertools.combinations_with_replacement(range(k), 2):
        b[i, j] = b[j, i] = mean_abs_difference(components[i].T, components[j].T) @ w
    return a, b


def simplex_grid(k: int, step: float = 0.1) -> np.ndarray:
    """Return every weight vector of ``k`` components on a grid of ``step`` that sums to 1, shape (points, k)."""
    units = int(round(1 / step))
    points = [c for c in itertools.product(range(units + 1), repeat=k) if sum(c) == units]
    return np.array(points, dtype=float) / units


def best_weights(a: np.ndarray, b: np.ndarray, step: float = 0.1) -> np.ndarray:
    """Return the grid weights minimising the mixture CRPS ``w.a - w.B.w / 2`` (a, B from `mixture_terms`)."""
    grid = simplex_grid(len(a), step)
    scores = grid @ a - 0.5 * np.einsum("pi,ij,pj->p", grid, b, grid)
    return grid[int(np.argmin(scores))]


def quiet_regions(values: np.ndarray) -> np.ndarray:
    """Return which regions (rows of ``values``, months up to the origin) had no positive month in the last 12."""
    recent = np.nan_to_num(np.asarray(values, dtype=float)[:, -QUIET_MONTHS:], nan=0.0)
    return recent.max(axis=1) <= 0


@dataclass(frozen=True)
class LearnedCombination:
    """A picklable forecaster mixing ``components`` (name -> forecaster) with weights learned per regime.

    Training origins are ``spacing`` months apart, the latest ``horizon`` months before the forecast origin (so
    its window is observed), at most ``training_origins`` of them, each with at least ``min_history`` months of
    history. Without any, every component gets the same weight.
    """

    components: tuple[tuple[str, object], ...]
    training_origins: int = 8
    spacing: int = 12
    min_history: int = 60
    step: float = 0.1
    draws: int = 1000

    def learn(self, panel, indicator: str, horizon: int, seed: int) -> tuple[dict[str, np.ndarray], list[str]]:
        """Return ({regime: weights in component order}, the training origins used, oldest first)."""
        periods, values = list(panel.periods), panel.values(indicator)
        last = len(periods) - 1
        picks = [last - horizon - self.spacing * i for i in range(self.training_origins)]
        picks = sorted(p for p in picks if p >= self.min_history)
        sums = {regime: None for regime in REGIMES}
        for index in picks:
            origin = periods[index]
            history = panel.until(origin)
            paths = [np.asarray(f(history, indicator, horizon, seed), dtype=float) for _, f in self.components]
            observed = values[:, index + 1: index + 1 + horizon].T  # (horizon, regions): before the forecast origin
            finite = np.isfinite(observed) & np.logical_and.reduce([np.isfinite(p).all(axis=0) for p in paths])
            quiet = quiet_regions(values[:, : index + 1])
            for regime, mask in (("quiet", quiet), ("active", ~quiet)):
                cells = finite & mask[None, :]
                if not cells.any():
                    continue
                a, b = mixture_terms([p[:, cells] for p in paths], observed[cells])
                sums[regime] = (a, b) if sums[regime] is None else (sums[regime][0] + a, sums[regime][1] + b)
        k = len(self.components)
        weights = {regime: (best_weights(*sums[regime], step=self.step) if sums[regime] is not None
                            else np.full(k, 1.0 / k)) for regime in REGIMES}
        return weights, [periods[i] for i in picks]

    def __call__(self, panel, indicator: str, horizon: int, seed: int) -> np.ndarray:
        """Return the combined paths (draws, horizon, n_regions)."""
        weights, _ = self.learn(panel, indicator, horizon, seed)
        paths = [np.asarray(f(panel, indicator, horizon, seed), dtype=float) for _, f in self.components]
        return mix_paths(paths, weights, quiet_regions(panel.values(indicator)), draws=self.draws, seed=seed)


def mix_paths(paths: list[np.ndarray], weights: Mapping[str, np.ndarray], quiet: np.ndarray, *, draws: int,
              seed: int) -> np.ndarray:
    """Return (draws, horizon, regions) paths, each region's path taken whole from a component drawn with its
    regime's weights (``quiet`` per region); a component's paths are resampled to ``draws``."""
    rng = np.random.default_rng([seed, 7])
    horizon, n_regions = paths[0].shape[1:]
    out = np.empty((draws, horizon, n_regions))
    for r in range(n_regions):
        w = weights["quiet" if quiet[r] else "active"]
        which = rng.choice(len(paths), size=draws, p=w / w.sum())
        for c, component in enumerate(paths):
            rows = np.flatnonzero(which == c)
            if rows.size:
                out[rows, :, r] = component[rng.integers(0, component.shape[0], rows.size), :, r]
    return out

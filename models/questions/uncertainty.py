"""Posterior uncertainty of quantities read from simulated paths, kept apart from Monte Carlo error.

Paths come in groups, one posterior draw theta_s per group (models.questions.simulation.draw_randomness). A
quantity such as P(event) has a value per draw, q(theta_s). Three numbers are reported, each named:

- the **predictive** value: the mean over every path of the forecast (the posterior mean of q(theta));
- its **Monte Carlo standard error**: sd of the group means / sqrt(groups) (the groups are independent
  given the fit); it falls as 1 / sqrt(paths) and says nothing about the data;
- the **credible interval** (90%): the spread of q(theta_s) over the posterior draws. It is read from a
  *posterior grid*: S draws x M paths in which every draw reads the same M sets of random numbers
  (common random numbers), so the per-draw means differ by the parameters and hardly by the simulation's
  noise. With independent paths per draw, M paths give each q(theta_s) a noise of sd sqrt(q(1-q)/M)
  (0.05 at M = 100), larger than the posterior spread of most event probabilities. The interval is the
  predictive value plus the quantiles of the per-draw deviations from their mean (the grid's own centre
  carries the noise common to its M sets, which the predictive sample does not).
"""

from __future__ import annotations

import numpy as np

INTERVAL_LEVEL = 0.9
MIN_GROUPS = 20
"""Fewer posterior draws than this give no credible interval (its quantiles would be noise)."""
GRID_POSTERIOR_DRAWS = 100
GRID_PATHS_PER_DRAW = 50
"""The posterior grid's size (S draws x M shared random-number sets). Measured on the demo fit (120 months,
IRQ -> IRN): the end points moved by 0.010-0.033 between two seeds at 100 x 50 (3.8 s for the pair, 70 MB),
0.008-0.059 at 200 x 50 and 0.009-0.041 at 200 x 100 (31 s): beyond 100 x 50 the cost grows faster than
the stability (models/NOTES_count_model.md, session 8)."""
EVENT_GRID_POSTERIOR_DRAWS = 100
EVENT_GRID_PATHS_PER_DRAW = 25
"""The event grid's size: the grid of one question "does region r reach k within H", simulated conditioned on no
crossing (Rao-Blackwellised: each path carries its exact probability of never crossing, so a draw's probability
carries far less simulation noise; see models.count.tails.below_threshold). Measured over 8 seeds (session 9,
models/NOTES_count_model.md): the sd of an end point's move between two seeds was 0.004-0.010 on the demo and
0.004-0.013 on the real Middle East panel at 100 x 25; 200 x 15 and 400 x 10 were no steadier for more paths."""


def posterior_groups(draws: int, n_samples: int, posterior_draws: int | None = None) -> int:
    """Return the number of posterior draws a forecast of `draws` paths is built from: `posterior_draws` if
    given, else one per path up to the posterior's size (so the predictive value's Monte Carlo error keeps
    falling as 1 / sqrt(paths))."""
    if posterior_draws is not None:
        return max(1, min(int(posterior_draws), int(draws)))
    return max(1, min(n_samples, draws))


def group_of_paths(draws: int, groups: int) -> np.ndarray:
    """Return the posterior group of each of `draws` paths (path i belongs to group i mod `groups`)."""
    return np.arange(draws) % max(groups, 1)


def group_means(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Return the mean of per-path `values` in each group (groups in sorted order)."""
    _, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=np.asarray(values, dtype=float)) / sizes


def predictive(values: np.ndarray, groups: np.ndarray | None) -> tuple[float, float]:
    """Return (mean of per-path `values`, its Monte Carlo standard error) over an independent path sample."""
    values = np.asarray(values, dtype=float)
    means = group_means(values, groups) if groups is not None else values
    se = float(means.std(ddof=1) / np.sqrt(means.size)) if means.size > 1 else float("nan")
    return float(values.mean()), se


def credible_interval(per_draw: np.ndarray, centre: float, *, lo: float | None = None,
                      hi: float | None = None) -> list[float] | None:
    """Return the 90% credible interval [low, high] of a quantity with per-draw values `per_draw` (from a
    posterior grid) around the predictive `centre`, clipped to [lo, hi]; None with fewer than MIN_GROUPS draws."""
    per_draw = np.asarray(per_draw, dtype=float)
    if per_draw.size < MIN_GROUPS:
        return None
    tail = (1 - INTERVAL_LEVEL) / 2
    low, high = centre + np.quantile(per_draw - per_draw.mean(), [tail, 1 - tail])
    clip = (lo if lo is not None else -np.inf, hi if hi is not None else np.inf)
    return [float(np.clip(low, *clip)), float(np.clip(high, *clip))]


def share_through(uncut: np.ndarray, cut: np.ndarray) -> float:
    """Return 1 - mean(cut) / mean(uncut): the share of the uncut mean that the cut removes (0 if it is 0)."""
    total = float(np.mean(uncut))
    return 1.0 - float(np.mean(cut)) / total if total > 0 else 0.0


def share_standard_error(uncut: np.ndarray, cut: np.ndarray, groups: np.ndarray | None) -> float:
    """Return the Monte Carlo standard error of `share_through` (a ratio of means: delta method over the
    independent groups)."""
    a = group_means(uncut, groups) if groups is not None else np.asarray(uncut, dtype=float)
    b = group_means(cut, groups) if groups is not None else np.asarray(cut, dtype=float)
    if a.size < 2 or a.mean() <= 0:
        return float("nan") if a.size < 2 else 0.0
    residual = b - (b.mean() / a.mean()) * a
    return float(residual.std(ddof=1) / np.sqrt(a.size) / a.mean())


def share_per_draw(uncut: np.ndarray, cut: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Return `share_through` per posterior group of per-path values."""
    a, b = group_means(uncut, groups), group_means(cut, groups)
    return np.where(a > 0, 1.0 - b / np.where(a > 0, a, 1.0), 0.0)


def interval_method(grid_draws: int | None, grid_paths: int | None, paths: int, *,
                    rao_blackwellised: bool = False) -> str:
    """Return the words that name the intervals of an answer read from `paths` predictive paths and a posterior
    grid of `grid_draws` draws x `grid_paths` shared random-number sets (None: no grid); `rao_blackwellised`:
    the grid's event probabilities are exact given each path (conditioned on no crossing)."""
    level = int(INTERVAL_LEVEL * 100)
    if grid_draws and grid_draws >= MIN_GROUPS:
        how = "exact crossing probabilities along" if rao_blackwellised else "paths each on"
        return (f"{level}% credible interval: posterior uncertainty over {grid_draws} posterior draws "
                f"({grid_paths} {how} common random numbers); the value is the predictive one over "
                f"{paths} paths, mc_standard_error its Monte Carlo error")
    return (f"{level}% Monte Carlo interval over {paths} simulated paths (not posterior uncertainty: no "
            f"posterior grid was simulated)")

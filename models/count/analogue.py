"""Analogue forecaster: a region's recent shape matched against every region's history before the origin.

In the spirit of ViEWS 2023/24's ShapeFinder entry, with scipy's k-d tree (``scipy.spatial.cKDTree``) doing
the matching. A *state* at month t is described on the log1p scale by

- the shape of the last ``shape_months`` months around their mean (what the series did),
- that mean times ``level_weight`` (how violent it is now),
- log1p(months since the last positive month, capped at 240) (how long it has been quiet),
- the gap between the largest month of the last 60 and the mean (how far it is below a recent peak).

The library holds every observed (region, t) state of the panel whose next ``horizon`` months are observed
by the origin (no look-ahead: a candidate's future ends at or before the origin). Each region's state at the
origin takes its ``neighbours`` nearest library states; each path is one of their futures, shifted by the
difference of levels on the log1p scale (a future of a quieter analogue is scaled up to this region's level),
rounded and bounded by ``ceiling_factor`` times the region's record (models.count.tails.ceilings). A region
quiet for a year whose analogues stayed quiet is forecast at exactly zero; a region just after a record month
follows what happened after other records -- mostly decay.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from models.count.tails import ceilings

SINCE_CAP = 240
PEAK_MONTHS = 60
DEFAULT_SHAPE_MONTHS = 6
DEFAULT_NEIGHBOURS = 300
DEFAULT_LEVEL_WEIGHT = 3.0
DEFAULT_CEILING_FACTOR = 3.0


def months_since_positive(values: np.ndarray, t: int) -> np.ndarray:
    """Return, per region, the months from the last positive month up to ``t`` to ``t`` (``SINCE_CAP`` if none)."""
    positive = np.nan_to_num(values[:, : t + 1], nan=0.0) > 0
    last = positive.shape[1] - 1 - np.argmax(positive[:, ::-1], axis=1)
    return np.where(positive.any(axis=1), np.minimum(t - last, SINCE_CAP), SINCE_CAP)


def state_features(log_values: np.ndarray, values: np.ndarray, t: int, shape_months: int,
                   level_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (features (regions, shape_months + 3), log1p level (regions,)) of every region's state at month ``t``.

    Rows with a missing month in the shape window are NaN.
    """
    window = log_values[:, t - shape_months + 1: t + 1]
    level = window.mean(axis=1)
    recent = log_values[:, max(0, t - PEAK_MONTHS + 1): t + 1]
    peak = np.nanmax(np.where(np.isfinite(recent).any(axis=1, keepdims=True), recent, 0.0), axis=1)
    since = np.log1p(months_since_positive(values, t))
    features = np.column_stack([window - level[:, None], level_weight * level, since, peak - level])
    return features, level


def analogue_futures(values: np.ndarray, horizon: int, *, shape_months: int = DEFAULT_SHAPE_MONTHS,
                     neighbours: int = DEFAULT_NEIGHBOURS, level_weight: float = DEFAULT_LEVEL_WEIGHT,
                     ceiling_factor: float | None = DEFAULT_CEILING_FACTOR) -> np.ndarray:
    """Return every region's analogue futures (regions, neighbours, horizon) from ``values`` (regions, months).

    Row r holds the futures of the ``neighbours`` library states nearest to region r's state at the origin (the
    last month of ``values``), level-shifted, rounded and bounded (see the module docstring), nearest first. A
    region not observed at the origin, or with a gap in its last ``shape_months`` months, is NaN. Raises
    ValueError when the history holds no complete analogue.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month; got {horizon}.")
    values = np.asarray(values, dtype=float)
    n_regions, n_months = values.shape
    origin = n_months - 1
    log_values = np.log1p(values)
    library, futures, levels = [], [], []
    for t in range(shape_months - 1, origin - horizon + 1):
        features, level = state_features(log_values, values, t, shape_months, level_weight)
        future = log_values[:, t + 1: t + 1 + horizon]
        ok = np.isfinite(features).all(axis=1) & np.isfinite(future).all(axis=1)
        library.append(features[ok])
        futures.append(future[ok])
        levels.append(level[ok])
    library_x = np.concatenate(library) if library else np.empty((0, shape_months + 3))
    if library_x.shape[0] == 0:
        raise ValueError(f"no analogue: the history needs {shape_months + horizon} observed months in some region")
    future_x, level_x = np.concatenate(futures), np.concatenate(levels)
    k = min(neighbours, library_x.shape[0])
    query, level_q = state_features(log_values, values, origin, shape_months, level_weight)
    out = np.full((n_regions, k, horizon), np.nan)
    asked = np.flatnonzero(np.isfinite(query).all(axis=1))
    if asked.size == 0:
        return out
    _, nearest = cKDTree(library_x).query(query[asked], k=k)
    nearest = nearest.reshape(asked.size, k)
    ceiling = ceilings(np.nanmax(np.where(np.isfinite(values), values, 0.0), axis=1), ceiling_factor)
    shifted = future_x[nearest] + (level_q[asked][:, None] - level_x[nearest])[:, :, None]
    paths = np.round(np.expm1(np.maximum(shifted, 0.0)))
    if ceiling is not None:
        paths = np.minimum(paths, np.floor(ceiling[asked])[:, None, None])
    out[asked] = paths
    return out


def analogue_paths(values: np.ndarray, horizon: int, *, draws: int = 1000, seed: int = 0,
                   shape_months: int = DEFAULT_SHAPE_MONTHS, neighbours: int = DEFAULT_NEIGHBOURS,
                   level_weight: float = DEFAULT_LEVEL_WEIGHT,
                   ceiling_factor: float | None = DEFAULT_CEILING_FACTOR) -> np.ndarray:
    """Return analogue paths (draws, horizon, regions): each path one of the region's `analogue_futures`, drawn
    with replacement. NaN where a region has no state at the origin; raises ValueError as `analogue_futures`."""
    futures = analogue_futures(values, horizon, shape_months=shape_months, neighbours=neighbours,
                               level_weight=level_weight, ceiling_factor=ceiling_factor)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, futures.shape[1], (futures.shape[0], draws))
    return np.take_along_axis(futures, pick[:, :, None], axis=1).transpose(1, 2, 0)


def analogue_forecast(panel, indicator: str, horizon: int, seed: int = 0, *, draws: int = 1000) -> np.ndarray:
    """Return the analogue forecaster's paths (draws, horizon, n_regions) of ``indicator`` from the panel's end."""
    return analogue_paths(panel.values(indicator), horizon, draws=draws, seed=seed)

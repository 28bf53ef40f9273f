"""Backtest scores per forecast window, and the onset and ending events of each window.

A window is one origin's forecast over the reported steps (with origins in October and steps 3..14: the
next calendar year, as in the ViEWS 2023/24 challenge). Per window and forecaster: the pooled scores of
its cells (the common cells every forecaster scored), their ratio to a reference forecaster's, and two
event scores that separate "knows when wars start and end" from "replays the last year":

- **onset**: among regions with no observed deaths in the ``QUIET_MONTHS`` months up to the origin, the
  Brier score of "at least ``ONSET_DEATHS`` in some month of the window";
- **border onset**: the onset score among those quiet regions with a land neighbour at war at the origin (the
  events a spillover channel should forecast better than a model without one);
- **ending**: among regions at war at the origin (at least ``ONSET_DEATHS`` in some month of the last
  ``WAR_MONTHS`` months up to it), the Brier score of "no deaths in the last ``ENDING_MONTHS`` months of the window".

A forecaster's probability of an event is the share of its paths in which the event happens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

ONSET_DEATHS = 25
QUIET_MONTHS = 12
WAR_MONTHS = 3
ENDING_MONTHS = 3
WINDOW_KEYS = ("crps", "crps_log1p", "ign", "mis", "coverage90")
EVENT_KEYS = ("onset_brier", "border_onset_brier", "ending_brier")


def _number(value: float) -> float | None:
    """Return ``value`` as a float, or None when it is not finite (JSON has no NaN)."""
    return float(value) if value is not None and math.isfinite(value) else None


def window_events(paths: np.ndarray, observed: np.ndarray, history: np.ndarray,
                  steps: Sequence[int], weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Return each region's onset, border onset and ending Brier scores of one forecast, NaN where the region is
    not eligible.

    ``paths`` (draws, horizon, regions); ``observed`` (horizon, regions) what happened; ``history``
    (regions, months) the values up to the origin; ``steps`` the window's steps (1-based); ``weights`` the
    neighbour matrix (w[q, r] > 0: q borders r; None: no region borders a war). A region whose window is not
    fully observed, or whose paths are not finite, is not scored.
    """
    idx = [s - 1 for s in steps]
    window_paths, window_obs = paths[:, idx, :], observed[idx, :]
    scored = np.isfinite(window_obs).all(axis=0) & np.isfinite(window_paths).all(axis=(0, 1))
    recent = np.asarray(history, dtype=float)[:, -QUIET_MONTHS:]
    seen = np.isfinite(recent).any(axis=1)
    quiet = seen & (np.nan_to_num(recent, nan=0.0).max(axis=1) <= 0)
    at_war = (np.nan_to_num(recent[:, -WAR_MONTHS:], nan=0.0) >= ONSET_DEATHS).any(axis=1)
    with np.errstate(invalid="ignore"):
        onset_p = (window_paths >= ONSET_DEATHS).any(axis=1).mean(axis=0)
        onset_y = (np.nan_to_num(window_obs, nan=0.0) >= ONSET_DEATHS).any(axis=0)
        tail_paths, tail_obs = window_paths[:, -ENDING_MONTHS:], window_obs[-ENDING_MONTHS:]
        ending_p = (tail_paths <= 0).all(axis=1).mean(axis=0)
        ending_y = (np.nan_to_num(tail_obs, nan=1.0) <= 0).all(axis=0)
    borders_war = (np.zeros_like(at_war) if weights is None
                   else ((np.asarray(weights) > 0) & at_war[:, None]).any(axis=0))
    return {"onset_brier": np.where(scored & quiet, (onset_p - onset_y) ** 2, np.nan),
            "border_onset_brier": np.where(scored & quiet & borders_war, (onset_p - onset_y) ** 2, np.nan),
            "ending_brier": np.where(scored & at_war, (ending_p - ending_y) ** 2, np.nan)}


def _mean(values: np.ndarray) -> float | None:
    """Return the mean of the finite values (None when there are none)."""
    values = values[np.isfinite(values)]
    return _number(values.mean()) if values.size else None


def _event_common(events: dict[str, np.ndarray], key: str) -> np.ndarray:
    """Return the (origin, region) cells where every forecaster scored event ``key``."""
    return np.logical_and.reduce([np.isfinite(e[key]) for e in events.values()])


def window_rows(stacks: dict[str, dict[str, np.ndarray]], events: dict[str, dict[str, np.ndarray]],
                common: np.ndarray, origins: Sequence[str], horizons: Sequence[int], periods: Sequence[str],
                reference: str = "bootstrap") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (one row per forecaster and window, one row per forecaster over all windows).

    ``stacks`` forecaster -> score -> (origin, step, region); ``events`` forecaster -> onset_brier /
    ending_brier -> (origin, region); ``common`` the cells every forecaster scored. A row holds the pooled
    ``WINDOW_KEYS`` over the window's common cells, ``ratio`` (its CRPS / ``reference``'s on the same cells;
    None without the reference), the onset and ending Brier scores and how many regions each covers.
    ``window`` is the calendar year of the window's first month; ``origin`` its origin.
    """
    steps = [h - 1 for h in horizons]
    event_ok = {key: _event_common(events, key) if events else None for key in EVENT_KEYS}
    rows: list[dict[str, Any]] = []
    overall: list[dict[str, Any]] = []
    ratios: dict[str, list[float]] = {name: [] for name in stacks}
    for o, origin in enumerate(origins):
        first = periods.index(origin) + min(horizons)
        year = int(periods[first][:4]) if first < len(periods) else int(origin[:4]) + 1
        mask = common[o][steps]
        ref = stacks[reference]["crps"][o][steps][mask].mean() if reference in stacks and mask.any() else None
        for name, stack in stacks.items():
            row: dict[str, Any] = {"window": year, "origin": origin, "forecaster": name}
            for key in WINDOW_KEYS:
                row[key] = _mean(stack[key][o][steps][mask])
            row["ratio"] = _number(row["crps"] / ref) if ref and row["crps"] is not None else None
            if row["ratio"] is not None:
                ratios[name].append(row["ratio"])
            for key, ok in event_ok.items():
                row[key] = _mean(events[name][key][o][ok[o]]) if events and name in events else None
                row[key.replace("brier", "n")] = int(ok[o].sum()) if ok is not None else 0
            row["n"] = int(mask.sum())
            rows.append(row)
    all_mask = common[:, steps]
    ref_all = stacks[reference]["crps"][:, steps][all_mask].mean() if reference in stacks else None
    for name, stack in stacks.items():
        row = {"windows": len(origins), "forecaster": name}
        for key in WINDOW_KEYS:
            row[key] = _mean(stack[key][:, steps][all_mask])
        row["ratio"] = _number(row["crps"] / ref_all) if ref_all and row["crps"] is not None else None
        row["worst_window_ratio"] = _number(max(ratios[name])) if ratios[name] else None
        row["windows_above_1"] = sum(r > 1.0 for r in ratios[name])
        for key, ok in event_ok.items():
            row[key] = _mean(events[name][key][ok]) if events and name in events else None
            row[key.replace("brier", "n")] = int(ok.sum()) if ok is not None else 0
        row["n"] = int(all_mask.sum())
        overall.append(row)
    return rows, overall

"""Summaries of a backtest beyond per-horizon means: pooled scores and the tail check.

Both read the per-cell score stacks of ``models.evaluation.backtest.aggregate`` (forecaster -> key ->
array (origin, step, region), NaN where not scored) and the mask of cells every forecaster
scored, so that what they compare is compared month for month.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

POOLED_KEYS = ("crps", "crps_log1p", "ign", "mis", "coverage90", "coverage50")


def _number(value: float) -> float | None:
    """Return ``value`` as a float, or None when it is not finite (JSON has no NaN)."""
    return float(value) if value is not None and math.isfinite(value) else None


def pooled_scores(stacks: dict[str, dict[str, np.ndarray]], common: np.ndarray,
                  horizons: Sequence[int]) -> list[dict[str, Any]]:
    """Return one row per forecaster: each score's mean over every common cell of the given horizons.

    With origins in October and horizons 3..14 this is the ViEWS 2023/24 challenge's pooled score
    (country-months of the next calendar year, every origin and step weighted alike).
    """
    steps = [h - 1 for h in horizons]
    mask = common[:, steps]
    rows = []
    for name, stack in stacks.items():
        row: dict[str, Any] = {"forecaster": name, "horizons": list(horizons)}
        for key in POOLED_KEYS:
            values = stack[key][:, steps][mask]
            values = values[np.isfinite(values)]
            row[key] = _number(values.mean()) if values.size else None
        row["n"] = int(mask.sum())
        rows.append(row)
    return rows


def tail_check(stacks: dict[str, dict[str, np.ndarray]], common: np.ndarray, origins: Sequence[str],
               horizons: Sequence[int], observed_max: float, model: str = "model",
               reference: str = "bootstrap") -> dict[str, Any]:
    """Return the tail check of ``model``: its worst (origin, horizon) mean count CRPS against ``reference``'s
    and its largest simulated value against the largest value ever observed (``observed_max``).

    ``worst_ratio`` is max over (origin, horizon) of mean CRPS(model) / mean CRPS(reference) over the
    common cells of that origin and step (cells where the reference scores 0 on average are skipped);
    ``max_simulated_ratio`` = largest simulated value / ``observed_max``. Empty when either is missing.
    """
    if model not in stacks:
        return {}
    out: dict[str, Any] = {"model": model, "observed_max": _number(observed_max)}
    sim_max = stacks[model]["sample_max"][:, [h - 1 for h in horizons]]
    largest = float(np.nanmax(sim_max)) if np.isfinite(sim_max).any() else float("nan")
    out["max_simulated"] = _number(largest)
    out["max_simulated_ratio"] = _number(largest / observed_max) if observed_max > 0 else None
    if reference in stacks:
        worst = (-np.inf, None, None)
        for o, origin in enumerate(origins):
            for h in horizons:
                cells = common[o, h - 1]
                if not cells.any():
                    continue
                ref = stacks[reference]["crps"][o, h - 1][cells].mean()
                mine = stacks[model]["crps"][o, h - 1][cells].mean()
                if ref > 0 and mine / ref > worst[0]:
                    worst = (mine / ref, origin, h)
        out.update(reference=reference, worst_ratio=_number(worst[0]), worst_origin=worst[1], worst_horizon=worst[2])
    return out


def compare_to_baselines(result, model: str = "model", baselines: Sequence[str] | None = None) -> dict[str, Any]:
    """Return, per horizon, the model's CRPS (counts and log1p) and coverage beside the best baseline's.

    ``skill`` = 1 - model / best baseline (positive: the model is better).
    """
    baselines = [b for b in (baselines or result.forecasters) if b != model]
    table = {(row["forecaster"], row["horizon"]): row for row in result.scores}
    summary: dict[str, Any] = {}
    for h in result.horizons:
        entry: dict[str, Any] = {}
        mine = table.get((model, h))
        for key in ("crps", "crps_log1p"):
            candidates = [(table[(b, h)][key], b) for b in baselines
                          if (b, h) in table and table[(b, h)][key] is not None]
            best_value, best_name = min(candidates) if candidates else (None, None)
            value = mine[key] if mine else None
            skill = 1 - value / best_value if value is not None and best_value else None
            entry[key] = {"model": value, "best_baseline": best_name, "baseline": best_value,
                          "skill": _number(skill) if skill is not None else None}
        entry["coverage90"] = mine["coverage90"] if mine else None
        entry["coverage50"] = mine["coverage50"] if mine else None
        summary[str(h)] = entry
    return summary

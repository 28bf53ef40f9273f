"""The demo's data and question: the model and indicator it stores, a synthetic history whose Iran series is
partly driven by Iraq's, and the Iraq -> Iran spillover threshold worth asking about."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported when the demo runs, not when `fragility --help` starts
    import numpy as np

MODEL_NAME = "middle-east"
INDICATOR = {"id": "conflict_deaths", "kind": "count", "unit": "deaths per month",
             "description": "Synthetic monthly conflict deaths (demo data, not real events)"}
SOURCE, TARGET, HORIZON = "IRQ", "IRN", 6


def demo_truth_overrides(regions: list[dict], seed: int) -> dict[str, np.ndarray]:
    """Return per-region (a, lam, phi, alpha) for the demo: population draws, Iraq and Syria hot,
    Iran quiet on its own but strongly fed by its neighbours (so Iraq's channel shows)."""
    import numpy as np

    from indicators import simulate_count_panel

    _, drawn = simulate_count_panel(graph=regions, n_periods=24, seed=seed, indicator="conflict_deaths",
                                    start="2000-01")
    ids = [r["id"] for r in regions]
    a, lam, phi, alpha = (np.array(getattr(drawn, k), dtype=float) for k in ("a", "lam", "phi", "alpha"))
    # (a, lam, phi, alpha): Iraq persistent and bursty, Iran calm on its own but open to its neighbours
    hot = {"IRQ": (2.5, 0.75, 0.05, 2.0), "SYR": (2.6, 0.55, 0.05, 3.0), "YEM": (2.4, 0.5, 0.03, 4.0),
           "AFG": (2.2, 0.45, 0.05, 4.0), "IRN": (0.3, 0.30, 0.50, 10.0)}
    for region, (a_r, lam_r, phi_r, alpha_r) in hot.items():
        if region in ids:
            i = ids.index(region)
            a[i], lam[i], phi[i], alpha[i] = a_r, lam_r, phi_r, alpha_r
    return {"a": a, "lam": lam, "phi": phi, "alpha": alpha}


def demo_rows(regions: list[dict], *, n_periods: int, seed: int, end: str) -> list[dict]:
    """Return the demo history as observation rows (region, indicator, period, value) ending at `end`."""
    from indicators import add_months, simulate_count_panel

    start = add_months(end, 1 - n_periods)
    panel, _ = simulate_count_panel(graph=regions, n_periods=n_periods, seed=seed, indicator=INDICATOR["id"],
                                    start=start, **demo_truth_overrides(regions, seed))
    return [{"region": row.region, "indicator": row.indicator, "period": row.period, "value": float(row.value)}
            for row in panel.to_frame().itertuples()]


def demo_threshold(rows: list[dict], region: str) -> int:
    """Return a threshold worth asking about: the API's suggested threshold at the 75th percentile of the
    region's last 24 months (`indicators.suggested_thresholds`, as `GET /v1/series/thresholds` gives it)."""
    from indicators import suggested_thresholds

    values = [r["value"] for r in rows if r["region"] == region]
    return int(suggested_thresholds(values, kind=INDICATOR["kind"], levels=(0.75,), months=24)[0].threshold)

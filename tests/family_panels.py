"""Small panels for each model family's unit tests and the family contract test
(tests/unit/models/test_family_contract.py): the same awkward cases for every family.

Counts and amounts have 6 regions (`REGIONS`, `AMOUNT_REGIONS`): a ring R1-R4 with a gap in R2, an island
ISO and a region EMPTY without data. Shares use 9 regions (`SHARE_REGIONS`): a ring of 6 with exact 0s and
1s, an all-zero region ZERO, an island ISO and EMPTY.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from indicators import Panel, simulate_amount_panel, simulate_count_panel, simulate_share_panel

N_MONTHS = 48


def ring_regions(ring: list[str]) -> list[dict]:
    """Return R1-R4 joined in a ring in the order `ring`, R3 also bordering EMPTY, then an island ISO and a
    region EMPTY (bordering R3)."""
    near = {r: sorted({ring[i - 1], ring[(i + 1) % len(ring)]}) for i, r in enumerate(ring)}
    return [*({"id": r, "name": r, "neighbours": near[r] + (["EMPTY"] if r == "R3" else [])} for r in sorted(ring)),
            {"id": "ISO", "name": "island", "neighbours": []},
            {"id": "EMPTY", "name": "no data", "neighbours": ["R3"]}]


REGIONS = ring_regions(["R1", "R2", "R4", "R3"])
AMOUNT_REGIONS = ring_regions(["R1", "R2", "R3", "R4"])  # the amount generator's ring
GAP = ("R2", 20)  # R2's month 20 is missing: months 20 and 21 of R2 cannot enter the likelihood
RING = [f"R{i:02d}" for i in range(1, 7)]
SHARE_REGIONS = [
    *({"id": r, "name": r, "neighbours": [RING[i - 1], RING[(i + 1) % 6]] + (["ZERO"] if r == "R01" else [])
       + (["EMPTY"] if r == "R03" else [])} for i, r in enumerate(RING)),
    {"id": "ZERO", "name": "never any militia", "neighbours": ["R01"]},
    {"id": "ISO", "name": "island", "neighbours": []},
    {"id": "EMPTY", "name": "no data", "neighbours": ["R03"]},
]
SHARE_GAP = ("R02", 20)


def make_panel() -> Panel:
    """Return 6 regions x 48 months of hhh4-form counts ("attacks"): a gap in R2, an island ISO and a region
    EMPTY with no data."""
    sim, _ = simulate_count_panel(4, N_MONTHS, seed=3, graph="ring")
    values = np.full((6, N_MONTHS), np.nan)
    values[:4] = sim.values("attacks")
    values[4] = np.random.default_rng(5).poisson(4.0, N_MONTHS)
    values[1, GAP[1]] = np.nan
    return Panel.from_arrays(REGIONS, "2018-01", {"attacks": values, "other": np.ones((6, N_MONTHS))})


def make_amount_panel(values_edit: Callable[[np.ndarray], None] | None = None) -> Panel:
    """Return the 6 regions x 48 months of `make_panel` with hurdle amounts ("kg"); `values_edit` may change
    the values in place first."""
    sim, _ = simulate_amount_panel(4, N_MONTHS, seed=3, graph="ring")
    values = np.full((6, N_MONTHS), np.nan)
    values[:4] = sim.values("seizures_kg")
    rng = np.random.default_rng(5)
    values[4] = np.where(rng.random(N_MONTHS) < 0.5, np.exp(rng.normal(1.0, 0.5, N_MONTHS)), 0.0)
    values[1, GAP[1]] = np.nan
    if values_edit:
        values_edit(values)
    return Panel.from_arrays(AMOUNT_REGIONS, "2018-01", {"kg": values, "other": np.ones((6, N_MONTHS))})


def make_share_panel(spillover: bool = True, seed: int = 3) -> Panel:
    """Return 9 regions x 48 months of shares ("militia_share"): a generator ring of 6 (with exact 0s and 1s),
    a gap in R02, an all-zero region ZERO, an island ISO and a region EMPTY without data."""
    ring, _ = simulate_share_panel(6, N_MONTHS, seed=seed, graph="ring", spillover=spillover)
    island, _ = simulate_share_panel(3, N_MONTHS, seed=seed + 1, graph="ring", spillover=False)
    values = np.full((len(SHARE_REGIONS), N_MONTHS), np.nan)
    values[:6] = ring.values("militia_share")
    values[6] = 0.0
    values[7] = island.values("militia_share")[1]  # the generator pushes the other two to exact 0 and 1
    values[1, SHARE_GAP[1]] = np.nan
    return Panel.from_arrays(SHARE_REGIONS, "2018-01", {"militia_share": values, "attacks": np.ones(values.shape)})

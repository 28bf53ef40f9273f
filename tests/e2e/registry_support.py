"""Builders shared by the registry tests: a tiny synthetic panel, its seeding, fast fit settings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from indicators import simulate_count_panel

N_REGIONS, N_PERIODS = 4, 36
# Tiny fits: 4 regions x 36 months, 2 chains x 300+300 draws pass this gate; 20+20 draws do not.
GATE_ENV = {"FRAGILITY_GATE__MAX_RHAT": "1.1", "FRAGILITY_GATE__MIN_ESS_BULK": "20",
            "FRAGILITY_GATE__MAX_DIVERGENCES": "10"}
GATE = {"max_rhat": 1.1, "min_ess_bulk": 20, "max_divergences": 10}
GOOD_SAMPLER = {"method": "nutpie", "draws": 300, "tune": 300, "chains": 2, "seed": 1}
STARVED_SAMPLER = {"method": "nutpie", "draws": 20, "tune": 20, "chains": 2, "seed": 1}


def tiny_panel(seed: int = 3):
    """Return (panel, truth) of the synthetic count panel used by the registry tests."""
    return simulate_count_panel(N_REGIONS, N_PERIODS, seed=seed, graph="ring")


def regions_payload(panel) -> list[dict]:
    """Return the panel's regions in the POST /v1/regions shape."""
    return [{"id": r["id"], "name": r["name"], "neighbours": list(r["neighbours"])} for r in panel.region_dicts]


def observations_payload(panel) -> list[dict]:
    """Return the panel's observed cells in the POST /v1/observations shape."""
    frame = panel.to_frame()
    return [{"region": row.region, "indicator": row.indicator, "period": row.period, "value": float(row.value)}
            for row in frame.itertuples()]


def model_payload(name: str = "attacks-model", sampler: dict | None = None, **extra) -> dict:
    """Return a POST /v1/models body for the tiny panel."""
    return {"name": name, "family": "count", "indicator": "attacks", "regions": [], "covariates": [],
            "spillover": True, "horizon": 6, "sampler": sampler or GOOD_SAMPLER, **extra}


def seed_database(database, panel) -> None:
    """Store the panel's regions, indicator and observations straight into the data tables; returns nothing."""
    from service.tables import Indicator, Observation, Region

    now = datetime.now(UTC)
    batch = str(uuid.uuid4())
    with database.session() as session:
        for region in regions_payload(panel):
            session.add(Region(id=region["id"], name=region["name"], parent=None,
                               neighbours=[{"id": n, "weight": 1.0} for n in region["neighbours"]], updated_at=now))
        session.add(Indicator(id="attacks", kind="count", unit="events", description="synthetic", updated_at=now))
        session.flush()
        for row in observations_payload(panel):
            session.add(Observation(region_id=row["region"], indicator_id=row["indicator"], period=row["period"],
                                    value=row["value"], updated_at=now, batch_id=batch))
        session.commit()

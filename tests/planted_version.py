"""A served model version planted without a fit: its forecast paths written to the artifact directory and its
row added to the database (through the service's migrations and crud functions), so tests of the paths export
need no sampling. Demo-sized by default: 25 regions x 12 months x 1,000 paths (a 7 MB CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.questions.paths import Forecast
from service.crud.indicators import upsert_indicators
from service.crud.models import create_model
from service.crud.versions import add_version
from service.db.engine import Database, run_migrations
from service.db.tables import utc_now
from service.serving.artifacts import file_sha256


def planted_forecast(n_paths: int = 1000, n_regions: int = 25, n_periods: int = 12, seed: int = 7) -> Forecast:
    """Return a grouped count forecast with integer-valued paths, one region all NaN (never observed) and a few
    fractional values, so every way a value is written (1.0, 0.5, nan) is exercised."""
    rng = np.random.default_rng(seed)
    paths = rng.poisson(40.0, size=(n_paths, n_periods, n_regions)).astype(float)
    paths[:, :, -1] = np.nan
    paths[0, 0, 0] = 0.5
    paths[1, 1, 1] = 1e-07
    periods = [f"2025-{month:02d}" for month in range(1, n_periods + 1)]
    regions = [f"R{index:02d}" for index in range(1, n_regions + 1)]
    groups = np.repeat(np.arange(n_paths // 10 + 1, dtype=np.int64), 10)[:n_paths]
    return Forecast(paths, periods, regions, indicator="attacks", groups=groups, meta={"seed": seed})


def plant_version(database_url: str, artifacts_dir: Path, forecast: Forecast, name: str = "planted") -> str:
    """Return the paths file's key after storing `forecast` as promoted version 1 of model `name` (created, with
    the count indicator `attacks`) in `database_url` and `artifacts_dir`."""
    key = f"models/{name}/job-1-attempt-1/paths.npz"
    target = Path(artifacts_dir) / key
    target.parent.mkdir(parents=True, exist_ok=True)
    forecast.save(target)
    run_migrations(database_url)
    database = Database(database_url)
    try:
        with database.session() as session:
            upsert_indicators(session=session, items=[{"id": "attacks", "kind": "count", "unit": "events"}])
            model = create_model(session, data={
                "name": name, "family": "count", "indicator": "attacks", "regions": [], "covariates": [],
                "spillover": False, "horizon": len(forecast.periods),
                "sampler": {"method": "nutpie", "draws": 100, "tune": 100, "chains": 1, "seed": 1}})
            add_version(session, model_id=model.id, number=1, data_hash="d" * 64, spec_hash="s" * 64,
                        regions=list(forecast.regions), posterior_file="posterior.nc", posterior_sha256="0" * 64,
                        paths_file=key, paths_sha256=file_sha256(target), paths_horizon=len(forecast.periods),
                        paths_draws=forecast.paths.shape[0], paths_seed=1, gate_passed=True, promoted_at=utc_now())
            session.commit()
    finally:
        database.dispose()
    return key

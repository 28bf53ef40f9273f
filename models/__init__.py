"""models: hierarchical PyMC model families, fitting, diagnostics, forecasts by joint simulation,
event and spillover probabilities, scoring and backtests, posterior I/O. Imports `indicators` only."""

from models.backtest import compare_to_baselines, count_model_forecaster, origins_for, run_backtest
from models.amount import AmountModel
from models.baselines import bootstrap_forecast, persistence_forecast, zero_forecast
from models.count import CountModel
from models.diagnostics import GateResult, compute_diagnostics, gate
from models.errors import ModelError, NotFitted, PosteriorMismatch, SamplingFailed, SpecError
from models.events import exceedance, spillover
from models.fit import Fit
from models.forecast import Forecast
from models.scoring import (
    brier_exceed,
    brier_within,
    crps,
    crps_log1p,
    dawid_sebastiani,
    log_score,
    pit_coverage,
    score_paths,
)
from models.servable import fit_servable
from models.share import ShareModel
from models.spec import MODEL_VERSION, ModelSpec, SamplerConfig, spec_id

__all__ = [
    "AmountModel",
    "CountModel",
    "Fit",
    "Forecast",
    "GateResult",
    "MODEL_VERSION",
    "ModelError",
    "ModelSpec",
    "NotFitted",
    "PosteriorMismatch",
    "SamplerConfig",
    "SamplingFailed",
    "ShareModel",
    "SpecError",
    "bootstrap_forecast",
    "brier_exceed",
    "brier_within",
    "compare_to_baselines",
    "compute_diagnostics",
    "count_model_forecaster",
    "crps",
    "crps_log1p",
    "dawid_sebastiani",
    "exceedance",
    "fit_servable",
    "gate",
    "log_score",
    "origins_for",
    "persistence_forecast",
    "pit_coverage",
    "run_backtest",
    "score_paths",
    "spec_id",
    "spillover",
    "zero_forecast",
]

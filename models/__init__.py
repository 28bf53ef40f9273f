"""models: hierarchical PyMC model families, fitting, diagnostics, forecasts by joint simulation,
event and spillover probabilities, scoring and backtests, posterior I/O. Imports `indicators` only.

Importing it registers the families count, share and amount (models.families), then the families that
installed packages declare as entry points of the group "fragility.families" (`load_plugin_families`).
A family outside any installed package (a test's) is registered by importing its module
(`import_families`); the service's spawned processes import the modules of their parent's families.
"""

from models import compile_cache  # noqa: F401  first: sets the default PyTensor cache before PyTensor loads
from models.amount import AmountModel
from models.answers import ProbabilityAnswer, SpilloverAnswer
from models.backtest import compare_to_baselines, count_model_forecaster, origins_for, run_backtest
from models.baselines import bootstrap_forecast, persistence_forecast, zero_forecast
from models.count import CountModel
from models.diagnostics import compute_diagnostics
from models.errors import ModelError, NotFitted, PosteriorMismatch, SamplingFailed, SpecError
from models.events import exceedance, probability_of, spillover, spillover_of
from models.families import FAMILIES, load_plugin_families, register_family
from models.family import FamilyModel
from models.fit import Fit
from models.forecast import Forecast
from models.gate import GateResult, fit_servable, gate
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
from models.share import ShareModel
from models.sources import FitSource, ForecastSource
from models.spec import MODEL_VERSION, ModelSpec, SamplerConfig, spec_id

load_plugin_families()

__all__ = [
    "AmountModel",
    "CountModel",
    "FAMILIES",
    "FamilyModel",
    "Fit",
    "FitSource",
    "Forecast",
    "ForecastSource",
    "GateResult",
    "MODEL_VERSION",
    "ModelError",
    "ModelSpec",
    "NotFitted",
    "PosteriorMismatch",
    "ProbabilityAnswer",
    "SamplerConfig",
    "SamplingFailed",
    "ShareModel",
    "SpecError",
    "SpilloverAnswer",
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
    "probability_of",
    "register_family",
    "run_backtest",
    "score_paths",
    "spec_id",
    "spillover",
    "spillover_of",
    "zero_forecast",
]

"""models: hierarchical PyMC model families, fitting, diagnostics, forecasts by joint simulation,
event and spillover probabilities, scoring and backtests, posterior I/O. Imports `indicators` only.

Grouped by job, each group importing only the groups below it (an import-linter contract in pyproject.toml):
- the families `count`, `share`, `amount`: one folder each (model class, priors, simulator);
- `evaluation`: backtests, baselines, scores, the learned combination of forecasters;
- `fitting`: the family contract (`FamilyModel`) and registration, design, priors, sampling, diagnostics,
  the promotion gate, and `Fit` (a posterior, with its NetCDF form);
- `questions`: what a fit answers, by joint simulation: the simulated paths (`Forecast`), covariate paths,
  event and spillover probabilities with their uncertainty, sources of forecasts, typed answers;
- `core`: errors, the model spec and the family registry.

Importing it registers the families count, share and amount (models.fitting.registration), then the families
that installed packages declare as entry points of the group "fragility.families" (`load_plugin_families`).
A family outside any installed package (a test's) is registered by importing its module
(models.core.registry.import_families); the service's spawned processes import the modules of their parent's
families.
"""

from models.fitting import compile_cache  # noqa: F401  first: sets the default PyTensor cache before PyTensor loads

# isort: split
from models.amount import AmountModel
from models.core.errors import ModelError, NotFitted, PosteriorMismatch, SamplingFailed, SpecError
from models.core.registry import FAMILIES
from models.core.spec import MODEL_VERSION, ModelSpec, SamplerConfig, spec_id
from models.count import CountModel
from models.evaluation.backtest import compare_to_baselines, count_model_forecaster, origins_for, run_backtest
from models.evaluation.baselines import bootstrap_forecast, persistence_forecast, zero_forecast
from models.evaluation.scoring import (
    brier_exceed,
    brier_within,
    crps,
    crps_log1p,
    dawid_sebastiani,
    log_score,
    pit_coverage,
    score_paths,
)
from models.fitting.diagnostics import compute_diagnostics
from models.fitting.family_model import FamilyModel
from models.fitting.fit import Fit
from models.fitting.gate import GateResult, fit_servable, gate
from models.fitting.registration import load_plugin_families, register_family
from models.questions.answers import ProbabilityAnswer, SpilloverAnswer
from models.questions.events import exceedance, probability_of, spillover, spillover_of
from models.questions.paths import Forecast
from models.questions.sources import FitSource, ForecastSource
from models.share import ShareModel

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

"""indicators: the domain of fragility series (pure; imports nothing else of this project).

Regions and adjacency, indicator kinds, batch validation, CSV/JSON loading, month handling,
the region x period `Panel`, own and spatial lags, and synthetic panels with known truth.
"""

from indicators.errors import (
    BatchRejected,
    BatchTooLarge,
    FragilityError,
    InputError,
    PeriodError,
    RegionError,
    RowError,
    UnknownIndicator,
    UnknownRegion,
)
from indicators.kinds import IndicatorKind, parse_value
from indicators.lags import lag_values, spatial_lag, spatial_lag_by_source
from indicators.loading import (
    read_observations_csv,
    read_observations_csv_lines,
    read_observations_json,
    read_regions_json,
)
from indicators.panel import Panel
from indicators.periods import add_months, current_month, month_range, months_between, parse_period
from indicators.regions import Region, load_demo_regions, validate_regions, weights_matrix
from indicators.synthetic import (
    AmountTruth,
    CountTruth,
    ShareTruth,
    simulate_amount_panel,
    simulate_count_panel,
    simulate_share_panel,
)
from indicators.thresholds import SuggestedThreshold, suggested_thresholds
from indicators.validation import Catalogue, Observation, validate_batch

__all__ = [
    "AmountTruth",
    "BatchRejected",
    "BatchTooLarge",
    "Catalogue",
    "CountTruth",
    "FragilityError",
    "IndicatorKind",
    "InputError",
    "Observation",
    "Panel",
    "PeriodError",
    "Region",
    "RegionError",
    "RowError",
    "ShareTruth",
    "SuggestedThreshold",
    "UnknownIndicator",
    "UnknownRegion",
    "add_months",
    "current_month",
    "lag_values",
    "load_demo_regions",
    "month_range",
    "months_between",
    "parse_period",
    "parse_value",
    "read_observations_csv",
    "read_observations_csv_lines",
    "read_observations_json",
    "read_regions_json",
    "simulate_amount_panel",
    "simulate_count_panel",
    "simulate_share_panel",
    "spatial_lag",
    "spatial_lag_by_source",
    "suggested_thresholds",
    "validate_batch",
    "validate_regions",
    "weights_matrix",
]

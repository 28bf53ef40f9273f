"""The typed answers to the questions asked of a fit: `SpilloverAnswer` and `ProbabilityAnswer`.

Their field names are the answers' names everywhere: the library's dicts (`to_dict`) and the service's API
shapes (service.schemas.models) are built from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SpilloverAnswer:
    """The answer to "will the target reach `threshold` within `horizon`, and how much is the source's?"
    (see models.questions.events.spillover_answer for what each value means)."""

    source: str
    target: str
    threshold: float
    horizon: int
    probability: float
    probability_interval: list[float]
    probability_without_source: float
    probability_without_source_interval: list[float]
    attributable: float
    attributable_interval: list[float]
    channel_share: float
    channel_share_interval: list[float]
    channel_probability: float | None
    channel_min_effect: float
    mc_standard_error: dict[str, float]
    interval_method: str
    posterior_draws: int | None
    normalise: str | None
    scenario: bool
    covariates_mode: str
    draws: int
    seed: int

    def to_dict(self) -> dict:
        """Return the answer as the dict the library returned before it was typed (same keys, same order)."""
        return asdict(self)


@dataclass(frozen=True)
class ProbabilityAnswer:
    """The answer to "will `region` reach `threshold`?" within `horizon` (within=True: floats) or per month
    (within=False: lists, one per period); see models.questions.paths.Forecast.probability for the values."""

    region: str
    threshold: float
    horizon: int
    within: bool
    probability: float | list[float]
    interval: list[float] | list[list[float]]
    credible_interval: list[float] | list[list[float]] | None
    mc_standard_error: float | list[float] | None
    interval_method: str
    periods: list[str] | None = None

    def to_dict(self) -> dict:
        """Return the answer as a dict of its fields."""
        return asdict(self)

"""API shapes of models, versions and the questions asked of them (forecast, probability, spillover)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from croniter import croniter
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from service.schemas.scenario import Scenario

if TYPE_CHECKING:  # not imported at run time: the HTTP-only CLI commands start without the models' libraries
    from models.questions.answers import ProbabilityAnswer, SpilloverAnswer

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
MAX_SEED = 2**32 - 1
"""The largest sampler seed: numpy's and the samplers' seeds are 32-bit (a larger one fails every fit)."""


class SamplerIn(BaseModel):
    """How a model is fitted: sampler, draws and tuning steps per chain, chains, seed. The defaults are
    the first run of `models.fitting.gate.fit_servable` (2 x (400 + 1300)); a run that misses the gate is topped up."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["nutpie", "pymc", "advi"] = "nutpie"
    draws: int = Field(default=1300, ge=10, le=100_000)
    tune: int = Field(default=400, ge=0, le=100_000)
    chains: int = Field(default=2, ge=1, le=16)
    seed: int = Field(default=1, ge=0, le=MAX_SEED, description="random seed, 0..2**32-1 (what the samplers take)")


def check_schedule(value: str | None) -> str | None:
    """Return the cron expression unchanged if croniter accepts it (None stays None)."""
    if value is not None and not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a cron expression such as '0 3 1 * *'")
    return value


def shortest_schedule_gap_seconds(schedule: str) -> int:
    """Return the shortest time in seconds between two ticks of a valid cron `schedule`.

    The ticks of a day are the product of its seconds (6th field), minutes and hours; the gap from a day's
    last tick to the next day's first is counted as if matching days were consecutive (exact when they
    are, a lower bound otherwise), so the answer is at most one day.
    """
    expanded = croniter(schedule).expanded

    def values(field: list, size: int) -> list[int]:
        return list(range(size)) if field == ["*"] else sorted({int(v) for v in field})

    seconds = values(expanded[5], 60) if len(expanded) > 5 else [0]
    times = sorted(h * 3600 + m * 60 + s for h in values(expanded[1], 24) for m in values(expanded[0], 60)
                   for s in seconds)
    within_day = min((b - a for a, b in zip(times, times[1:])), default=86400)
    return min(within_day, 86400 - times[-1] + times[0])


def check_schedule_interval(schedule: str | None, minimum_seconds: int) -> None:
    """Return nothing if `schedule` (a valid cron expression, or None) never ticks twice within `minimum_seconds`.

    Raises RequestValidationError naming the field `schedule` (a 422 like every invalid field).
    """
    if schedule is None or minimum_seconds <= 0:
        return
    gap = shortest_schedule_gap_seconds(schedule)
    if gap < minimum_seconds:
        message = (f"schedule {schedule!r} can tick {gap} s apart; schedules may tick at most once every "
                   f"{minimum_seconds} s (FRAGILITY_MIN_SCHEDULE_INTERVAL_SECONDS), e.g. '0 3 * * *'")
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "schedule"), "msg": message,
                                       "input": schedule}])


def registered_families() -> list[str]:
    """Return the names of the registered model families (models.core.registry).

    `models` is imported here, on first use, not with the app: it imports PyMC, which takes seconds.
    """
    from models import FAMILIES

    return list(FAMILIES)


def check_family(value: str) -> str:
    """Return the family name unchanged if it is registered; raises ValueError naming the registered ones."""
    known = registered_families()
    if value not in known:
        raise ValueError(f"unknown model family {value!r}; use one of {', '.join(known)}")
    return value


FamilyName = Annotated[str, AfterValidator(check_family),
                       Field(json_schema_extra=lambda schema: schema.update(enum=registered_families()))]
"""A registered model family; the schema lists the families registered when it is generated."""
IndicatorUnit = Annotated[str | None, Field(description=(
    "the indicator's stored unit (e.g. deaths per month); values, thresholds and quantiles are in it"))]
"""The unit of an answer's values, thresholds and quantiles, as its indicator stores it."""
AskedVersion = Annotated[int | None, Field(ge=1, le=2**63 - 1, description="version to ask (default: the served one)")]
"""The version a question asks (None: the served one)."""


class ModelIn(BaseModel):
    """A model to create (POST) or replace (PUT). `regions` empty = the regions that have data for the indicator
    when the model is stored (recorded in the model and shown by GET)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    family: FamilyName = "count"
    indicator: str = Field(min_length=1, max_length=100)
    regions: list[str] = Field(default_factory=list, description=(
        "region ids; empty: the regions that have data for the indicator now (recorded). At most "
        "FRAGILITY_MAX_MODEL_REGIONS"))
    covariates: list[str] = Field(default_factory=list)
    spillover: bool = True
    normalise: Literal["target", "source"] = "target"
    horizon: int = Field(default=12, ge=1, le=60, description="months of forecast paths stored per version")
    schedule: str | None = Field(default=None, description="cron expression of scheduled refits")
    sampler: SamplerIn = Field(default_factory=SamplerIn)
    options: dict[str, Any] = Field(default_factory=dict, description=(
        "the family's own settings, e.g. {\"floor\": 0.02} for share, {\"persistence\": false} for amount, "
        "{\"pool_weight\": 0.5} for count (the keyword arguments of its model class beyond the fields above); "
        "checked by the family: a refused one is a 422 naming options.<name>"))

    _schedule = field_validator("schedule")(classmethod(lambda cls, v: check_schedule(v)))


NotNull = SkipJsonSchema[None]
"""The default None of a patch field that cannot be sent as null: absent from the OpenAPI schema."""


class ModelPatch(BaseModel):
    """Fields to change on a model; absent fields keep their value (`schedule: null` removes it)."""

    model_config = ConfigDict(extra="forbid")

    # `| NotNull` keeps null out of the schema: only `schedule` may be sent as null (see the validator below)
    family: FamilyName | NotNull = None
    indicator: str | NotNull = Field(default=None, min_length=1, max_length=100)
    regions: list[str] | NotNull = None
    covariates: list[str] | NotNull = None
    spillover: bool | NotNull = None
    normalise: Literal["target", "source"] | NotNull = None
    horizon: int | NotNull = Field(default=None, ge=1, le=60)
    schedule: str | None = None
    sampler: SamplerIn | NotNull = None
    options: dict[str, Any] | NotNull = None

    _schedule = field_validator("schedule")(classmethod(lambda cls, v: check_schedule(v)))

    @model_validator(mode="after")
    def only_schedule_may_be_null(self) -> ModelPatch:
        """Return the patch; raises ValueError when a field other than `schedule` is sent as null."""
        nulls = sorted(k for k in self.model_fields_set if k != "schedule" and getattr(self, k) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null (only schedule can be removed); "
                             "leave a field out to keep its value")
        return self


class ModelOut(BaseModel):
    """A model as stored, with the number of the version it serves (None before the first promotion)."""

    name: str
    family: str
    indicator: str
    regions: list[str]
    covariates: list[str]
    spillover: bool
    normalise: str
    horizon: int
    schedule: str | None
    sampler: dict[str, Any]
    options: dict[str, Any]
    served_version: int | None
    created_at: datetime
    updated_at: datetime


class ModelListOut(BaseModel):
    """Every model, with the count."""

    data: list[ModelOut]
    count: int


class GateOut(BaseModel):
    """The gate verdict of a version and, when it failed, why."""

    passed: bool
    reasons: list[str]


class VersionOut(BaseModel):
    """One fitted version: data snapshot, sampler settings, diagnostics, gate, promotion, artifacts."""

    version: int
    created_at: datetime
    job_id: int | None
    data_hash: str
    spec_hash: str
    spec: dict[str, Any]
    sampler: dict[str, Any]
    regions: list[str]
    last_period: str | None
    diagnostics: dict[str, Any]
    gate: GateOut
    promoted: bool
    promoted_at: datetime | None
    served: bool
    broken: str | None
    paths_horizon: int | None
    artifacts: dict[str, str | None]


class VersionListOut(BaseModel):
    """Every version of a model, newest first, and which one serves."""

    model: str
    served_version: int | None
    data: list[VersionOut]
    count: int
    next_cursor: str | None = Field(default=None, description=(
        "pass as `cursor` for the next page; null: this was the last page"))


class StepOut(BaseModel):
    """One forecast month: mean and the asked quantiles of the simulated paths."""

    period: str
    mean: float
    quantiles: dict[str, float]


class ForecastOut(BaseModel):
    """Forecast of one region from the stored paths of a version."""

    model: str
    version: int
    region: str
    indicator: str
    unit: IndicatorUnit = None
    normalise: str
    covariates_mode: str | None = Field(description=(
        "none (no covariates), held (kept at their last value), modelled (moved by their own served model) or mixed"))
    covariates: dict[str, dict[str, Any]] = Field(default_factory=dict, description=(
        "per covariate: mode, and the model and version that moved it (origin, held_regions) or why it was held"))
    draws: int
    steps: list[StepOut]


class ProbabilityIn(BaseModel):
    """An exceedance question: P(some month 1..horizon >= threshold) (or per month with within=false)."""

    model_config = ConfigDict(extra="forbid")

    region: str
    threshold: float = Field(ge=0, allow_inf_nan=False, description="k in y >= k; finite, not negative")
    horizon: int = Field(ge=1)
    within: bool = True
    version: AskedVersion = None


class AnswerOut(BaseModel):
    """An answer to a question, validated from the library's typed answer (models.questions.answers)."""

    @classmethod
    def from_answer(cls, answer: ProbabilityAnswer | SpilloverAnswer, **served: Any) -> Self:
        """Return this shape of `answer`: the answer's fields that the shape shows, then `served` (what the
        service adds, e.g. model, version, indicator and unit; it wins over the answer's)."""
        return cls.model_validate({k: v for k, v in asdict(answer).items() if k in cls.model_fields} | served)


class ProbabilityOut(AnswerOut):
    """The answer to an exceedance question: the predictive probability, its 90% credible interval
    (posterior uncertainty) and the Monte Carlo standard error of the probability."""

    model: str
    version: int
    region: str
    indicator: str | None = None
    unit: IndicatorUnit = None
    threshold: float = Field(description="k in y >= k, in `unit`")
    horizon: int
    within: bool
    probability: float | list[float] = Field(description="predictive probability: the mean over the posterior")
    interval: list[float] | list[list[float]] = Field(
        description="the 90% credible interval when the version's paths are grouped by posterior draw (as "
                    "credible_interval), else the Monte Carlo interval of older versions; interval_method says which")
    credible_interval: list[float] | list[list[float]] | None = Field(
        default=None, description="90% credible interval of P(event | parameters) over the posterior draws")
    mc_standard_error: float | list[float] | None = Field(
        default=None, description="Monte Carlo standard error of `probability` (shrinks with more simulated paths)")
    interval_method: str | None = None


class SpilloverIn(BaseModel):
    """A spillover question source -> target; `scenario` sets the source's path (see the docs)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    target: str
    threshold: float = Field(ge=0, allow_inf_nan=False, description="finite, not negative")
    horizon: int = Field(ge=1)
    scenario: Scenario = None
    version: AskedVersion = None


class SpilloverOut(AnswerOut):
    """Spillover answer: probability with and without the source's channel, and what it contributes."""

    model: str
    version: int
    source: str
    target: str
    indicator: str | None = None
    unit: IndicatorUnit = None
    threshold: float = Field(description="k in target >= k, in `unit`")
    horizon: int
    normalise: str
    scenario: dict[str, Any] | list[float | None] | None
    probability: float = Field(description="predictive probability that the target reaches the threshold")
    probability_interval: list[float] | None = Field(default=None, description="its 90% credible interval")
    probability_without_source: float
    probability_without_source_interval: list[float] | None = None
    attributable: float = Field(description="probability minus probability_without_source (paired)")
    attributable_interval: list[float] = Field(
        description="90% credible interval of the attributable difference over the posterior draws (see "
                    "interval_method)")
    channel_probability: float | None = Field(default=None, description=(
        "posterior probability that the channel exists at this question's scale: that it adds more than "
        "channel_min_effect to the probability"))
    channel_min_effect: float | None = Field(default=None, description="the effect size channel_probability asks about")
    channel_share: float | None
    channel_share_interval: list[float] | None = None
    mc_standard_error: dict[str, float] | None = Field(
        default=None, description="Monte Carlo standard error of each predictive value (not posterior uncertainty)")
    interval_method: str | None = None
    posterior_draws: int | None = None
    covariates_mode: str | None = None

"""API shapes of the data side: regions, indicators, observations, series, batch results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from indicators import IndicatorKind

FORBID_UNKNOWN = ConfigDict(extra="forbid")
"""Request bodies of the data side refuse unknown fields (422 naming the row and field): nothing sent is
dropped without a word, and nothing of a batch is stored while one of its fields is not understood."""


class NeighbourIn(BaseModel):
    """A neighbour with an edge weight (the same weight must be listed by both ends)."""

    model_config = FORBID_UNKNOWN

    id: str
    weight: float = 1.0


class RegionIn(BaseModel):
    """A region as posted: neighbours as ids or {"id","weight"}; adjacency must be symmetric."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"id": "IRQ", "name": "Iraq", "neighbours": ["IRN"]}]})

    id: str
    name: str
    parent: str | None = None
    neighbours: list[str | NeighbourIn] = Field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the region as the plain dict `indicators.validate_regions` takes."""
        out = self.model_dump(exclude_none=True)
        out["neighbours"] = [n if isinstance(n, str) else n.model_dump() for n in self.neighbours]
        return out


class RegionBatchIn(BaseModel):
    """A batch of regions, stored atomically."""

    model_config = FORBID_UNKNOWN

    regions: list[RegionIn]


class RegionOut(BaseModel):
    """A stored region; neighbours are plain ids when every edge weight is 1."""

    id: str
    name: str
    parent: str | None = None
    neighbours: list[str | NeighbourIn]


class RegionListOut(BaseModel):
    """Every stored region."""

    data: list[RegionOut]
    count: int
    next_cursor: str | None = Field(default=None, description=(
        "pass as `cursor` for the next page; null: this was the last page"))


class IndicatorIn(BaseModel):
    """An indicator: `count` (non-negative integers), `share` (0..1) or `amount` (non-negative)."""

    model_config = FORBID_UNKNOWN

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: IndicatorKind
    unit: str | None = Field(default=None, max_length=64)
    description: str | None = None


class IndicatorBatchIn(BaseModel):
    """A batch of indicators, stored atomically."""

    model_config = FORBID_UNKNOWN

    indicators: list[IndicatorIn]


class IndicatorOut(BaseModel):
    """A stored indicator."""

    id: str
    kind: IndicatorKind
    unit: str | None = None
    description: str | None = None


class IndicatorListOut(BaseModel):
    """Every stored indicator."""

    data: list[IndicatorOut]
    count: int


class ObservationIn(BaseModel):
    """One observation: the value of `indicator` in `region` for month `period` (YYYY-MM).

    Fields are optional here only so that a missing one is reported by the batch validation together with
    every other bad row; all four are required.
    """

    model_config = FORBID_UNKNOWN

    region: StrictStr | None = Field(default=None, examples=["IRQ"])
    indicator: StrictStr | None = Field(default=None, examples=["attacks"])
    period: StrictStr | None = Field(default=None, examples=["2024-01"], description="month, YYYY-MM")
    value: StrictFloat | StrictInt | StrictStr | None = Field(
        default=None, examples=[12], description="a finite number (numeric strings are accepted)")


class ObservationBatchIn(BaseModel):
    """A batch of observations, stored atomically (upsert on region, indicator, period)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"observations": [
        {"region": "IRQ", "indicator": "attacks", "period": "2024-01", "value": 12}]}]})

    observations: list[ObservationIn]

    def rows(self) -> list[dict]:
        """Return the rows as plain dicts for `indicators.validate_batch`."""
        return self.model_dump(exclude_none=True)["observations"]  # one call: serialised in Rust


class UpsertCountsOut(BaseModel):
    """How many entries of a batch were new, changed and identical to what was stored."""

    inserted: int
    updated: int
    unchanged: int


class BatchResultOut(UpsertCountsOut):
    """Counts of an observation batch and its id (the id revisions are recorded under)."""

    batch_id: str


class PointOut(BaseModel):
    """One observed month of a series."""

    period: str
    value: float


class SeriesOut(BaseModel):
    """The observed months of one region's indicator, in period order (missing months are absent)."""

    region: str
    indicator: str
    points: list[PointOut]


class RevisionOut(BaseModel):
    """One replaced value of a series: the month, the value before and after, when, and the batch that replaced it."""

    period: str
    old_value: float
    new_value: float
    replaced_at: datetime
    batch_id: str = Field(description="the batch_id answered by the ingest that replaced old_value")


class RevisionListOut(BaseModel):
    """The revision history of one region's indicator: by period, oldest revision first."""

    region: str
    indicator: str
    revisions: list[RevisionOut]
    count: int
    next_cursor: str | None = Field(default=None, description=(
        "pass as `cursor` for the next page; null: this was the last page"))


class SuggestedThresholdOut(BaseModel):
    """One suggested threshold: the quantile level, the region's quantile there, and the threshold to ask."""

    level: float = Field(description="quantile level, e.g. 0.75")
    quantile: float = Field(description="the region's quantile of the window's observed months, in `unit`")
    threshold: float = Field(description="threshold to ask (counts: the smallest whole number above the quantile)")


class ThresholdsOut(BaseModel):
    """Suggested thresholds for a probability or spillover question: the region's own recent quantiles."""

    region: str
    indicator: str
    kind: str
    unit: str | None
    months: int = Field(description="observed months the quantiles were taken over (at most the asked window)")
    start: str
    end: str
    suggestions: list[SuggestedThresholdOut]


class RowErrorOut(BaseModel):
    """One bad row or field: its 0-based row index (null when not in a list), the field and why; for a CSV body,
    also the file line where the row starts (the header is line 1)."""

    row: int | None
    field: str
    reason: str
    line: int | None = Field(default=None, description="CSV only: the file line of the row (header = line 1)")


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="class name of the error, e.g. BatchRejected")
    detail: str = Field(description="what happened")
    hint: str = Field(description="what to do about it")
    errors: list[RowErrorOut] | None = Field(default=None, description="every bad row, for batch errors")
    request_id: str | None = Field(description="also in the X-Request-ID header; quote it when reporting")


ERROR_STATUS_TEXT = {
    400: "body is not valid JSON / UTF-8 (MalformedJSON gives the parser's position)",
    401: "missing or invalid API key", 403: "the key's scope is too narrow", 404: "not found",
    408: "the body did not arrive within FRAGILITY_BODY_TIMEOUT_SECONDS",
    409: "conflicts with the stored state", 413: "body over FRAGILITY_MAX_BODY_BYTES",
    422: "invalid input; batch errors list every bad row",
    429: "rate limited (see Retry-After), or too many requests in progress from this address",
    500: "internal error (quote the request id)", 503: "database unavailable"}
"""What each error status means, as the OpenAPI schema describes it."""


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """Return OpenAPI `responses` documenting the error body for each status."""
    return {status: {"model": ErrorOut, "description": ERROR_STATUS_TEXT.get(status, "error")}
            for status in statuses}


READ_ERRORS = error_responses(401, 403, 422, 429, 503)
WRITE_ERRORS = error_responses(400, 401, 403, 413, 422, 429, 503)

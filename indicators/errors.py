"""Errors shared by every layer. Each class docstring is its default message; `.hint` says what to do next.

FragilityError                 root of every error this project raises on purpose
├── InputError                 the caller can fix it (HTTP 422)
│   ├── BatchRejected          one or more rows of a batch are bad; `.errors` lists every one
│   ├── BatchTooLarge          a batch has more rows than a caller allows (`max_rows`)
│   ├── RegionError            a region list is inconsistent (unknown neighbour, self-loop, asymmetric edge)
│   ├── UnknownRegion          a region id that is not in the catalogue
│   ├── UnknownIndicator       an indicator id that is not in the catalogue
│   └── PeriodError            a period that is not a valid, non-future YYYY-MM month
├── NotFound                   (service) 404
├── Conflict                   (service) 409
└── ModelError                 (models) a fit or a forecast could not be made
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


class FragilityError(Exception):
    """Something went wrong in fragility-forecast."""

    hint: str = ""

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        """Return the human-readable message."""
        return str(self.args[0]) if self.args else ""


class InputError(FragilityError):
    """The input is invalid."""

    hint = "Correct the input and send it again."


@dataclass(frozen=True)
class RowError:
    """One bad row of a batch: its 0-based index, the field at fault and why."""

    row: int
    field: str
    reason: str

    def to_dict(self) -> dict:
        """Return the error as a JSON-ready dict."""
        return asdict(self)


class BatchRejected(InputError):
    """The batch was rejected; nothing was stored."""

    hint = "Fix every listed row and resend the whole batch."

    def __init__(self, errors: list[RowError], message: str | None = None) -> None:
        self.errors = list(errors)
        super().__init__(message or f"batch rejected: {len(self.errors)} bad row(s); nothing was stored")


class BatchTooLarge(InputError):
    """The batch has more rows than allowed."""

    hint = "Split the batch into smaller ones and send them one after the other."


class RegionError(InputError):
    """The region list is inconsistent."""


class UnknownRegion(InputError):
    """Unknown region."""

    hint = "List regions with GET /v1/regions or add it with POST /v1/regions."


class UnknownIndicator(InputError):
    """Unknown indicator."""

    hint = "Add it with POST /v1/indicators first."


class PeriodError(InputError):
    """Invalid period: expected a month as YYYY-MM, not in the future."""

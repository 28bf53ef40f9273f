"""The root of every error this project raises on purpose, and the domain's input errors.

`FragilityError` is the one root: `models.core.errors` and `service.errors` subclass it (or `InputError`).
The whole tree, with the service's answer to each branch, is drawn once, in `service/errors.py`.
Each class docstring is its default message; `.hint` says what to do next, in words that hold for
any caller (no routes or status codes here: the service adds those at its boundary).

- `InputError`: the caller can fix it. Its leaves here: `BatchRejected` (`.errors` lists every bad
  row), `BatchTooLarge`, `RegionError`, `UnknownRegion`, `UnknownIndicator`, `PeriodError`.
- `RowError`: one bad row of a batch; `.problem` names the error class the row stands for (e.g.
  `UnknownRegion`) when a caller may want to say how to fix it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


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
    """One bad row of a batch: its 0-based index, the field at fault, why, and which kind of problem it is
    (and, for rows read from a CSV file, the file line where the row starts).

    `problem` (left out of equality and of `to_dict`) is the error class the row stands for, such as
    `UnknownRegion`, so that a caller can append its own way to fix it to `reason`.
    """

    row: int
    field: str
    reason: str
    problem: type[FragilityError] | None = dataclasses.field(default=None, compare=False)
    line: int | None = dataclasses.field(default=None, compare=False)
    """The line of the file where the row starts (the header is line 1), for rows read from a CSV file."""

    def to_dict(self) -> dict:
        """Return the error as a JSON-ready dict `{"row", "field", "reason"}`, with `"line"` when it is known."""
        out = {"row": self.row, "field": self.field, "reason": self.reason}
        if self.line is not None:
            out["line"] = self.line
        return out


class BatchRejected(InputError):
    """The batch was rejected; nothing was stored."""

    hint = "Fix every listed row and resend the whole batch."

    def __init__(self, errors: list[RowError], message: str | None = None) -> None:
        self.errors = list(errors)
        super().__init__(message or f"batch rejected: {len(self.errors)} bad row(s); nothing was stored")

    def at_lines(self, lines: list[int]) -> BatchRejected:
        """Return the same rejection with each row error's `line` set from `lines` (the file line of each row,
        as `read_observations_csv_lines` gives them)."""
        located = [dataclasses.replace(e, line=lines[e.row]) if 0 <= e.row < len(lines) else e for e in self.errors]
        return type(self)(located, self.message)


class BatchTooLarge(InputError):
    """The batch has more rows than allowed."""

    hint = "Split the batch into smaller ones and send them one after the other."


class RegionError(InputError):
    """The region list is inconsistent."""


class UnknownRegion(InputError):
    """Unknown region."""

    hint = "Add the region to the catalogue first."


class UnknownIndicator(InputError):
    """Unknown indicator."""

    hint = "Add the indicator to the catalogue first."


class PeriodError(InputError):
    """Invalid period: expected a month as YYYY-MM, not in the future."""

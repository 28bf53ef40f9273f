"""Indicator kinds and the value rule of each kind (DESIGN section 2).

- ``count``: non-negative integers up to 2**53 (attacks, seizure events); "3", "3.0" and 3.0 are fine, 3.5 is not.
- ``share``: a fraction in [0, 1] (territory or population under militia control).
- ``amount``: a non-negative real (kilograms seized).

NaN and infinities are never valid; booleans are not numbers; strings are parsed as numbers.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from enum import StrEnum

MAX_COUNT = 2**53
"""The largest count accepted: every integer up to 2**53 is stored exactly as a float, larger ones are not."""


class IndicatorKind(StrEnum):
    """What an indicator measures, which fixes its valid values and its model family."""

    COUNT = "count"
    SHARE = "share"
    AMOUNT = "amount"


class ValueRejected(ValueError):
    """A value broke its kind's rule; the message is the reason shown to the user."""


def parse_number(raw: object) -> float:
    """Return `raw` as a finite float.

    Accepts int, float and numeric strings (surrounding whitespace ignored).

    Raises
    ------
    ValueRejected
        With the reason: missing, boolean, non-numeric, NaN or infinite, or too large for a float.
    """
    if type(raw) is float:
        value = raw
    elif isinstance(raw, str):
        value = _number_from_text(raw)
    else:
        value = _number_from_object(raw)
    if value != value:
        raise ValueRejected("value is NaN")
    if value in (math.inf, -math.inf):
        raise ValueRejected("value is infinite")
    return value + 0.0  # turns -0.0 into 0.0


def _number_from_text(raw: str) -> float:
    """Return the float a numeric string spells (whitespace ignored; no '_'); ValueRejected if it spells none."""
    text = raw.strip()
    if not text:
        raise ValueRejected("missing value (empty)")
    if "_" in text:
        raise ValueRejected(f"value {_short(raw)} is not a number")
    try:
        return float(text)
    except ValueError:
        raise ValueRejected(f"value {_short(raw)} is not a number") from None


def _number_from_object(raw: object) -> float:
    """Return a non-string `raw` (int, int/float subclass, numpy scalar, other Real) as a float.

    Raises ValueRejected if it is missing, a boolean, not a real number or too large.
    """
    if type(raw) is int:
        try:
            return float(raw)
        except OverflowError:
            raise ValueRejected(f"value {raw} is too large") from None
    if raw is None:
        raise ValueRejected("missing value")
    if isinstance(raw, bool):
        raise ValueRejected(f"value {raw!r} is a boolean, not a number")
    if not isinstance(raw, (int, float)) and not isinstance(raw, numbers.Real):  # numpy integer scalars are Real
        raise ValueRejected(f"value of type {type(raw).__name__} is not a number")
    try:
        return float(raw)
    except (OverflowError, ValueError, TypeError):
        raise ValueRejected(f"value {_short(raw)} is not a number") from None


def check_value(value: float, kind: IndicatorKind | str) -> float:
    """Return `value` if it obeys the rule of `kind`.

    Raises
    ------
    ValueRejected
        With the reason (negative count, non-integer count, share outside [0, 1], negative amount).
    """
    if kind == "count":
        if value < 0:
            raise ValueRejected(f"negative count {value:g}: counts are non-negative integers")
        if not value.is_integer():
            raise ValueRejected(f"non-integer count {value!r}: counts are whole numbers")
        if value > MAX_COUNT:
            raise ValueRejected(f"count {value:g} is above 2**53 = {MAX_COUNT}, the largest count stored exactly")
    elif kind == "share":
        if not 0.0 <= value <= 1.0:
            raise ValueRejected(f"share {value:g} outside [0, 1]: send fractions, not percentages")
    elif kind == "amount":
        if value < 0:
            raise ValueRejected(f"negative amount {value:g}: amounts are non-negative")
    else:
        raise ValueRejected(f"unknown indicator kind {kind!r}")
    return value


def parse_value(raw: object, kind: IndicatorKind | str) -> float:
    """Return `raw` as a float valid for indicator `kind`.

    Raises
    ------
    ValueRejected
        With the reason the value is not acceptable.
    """
    value = check_value(parse_number(raw), kind)
    check_count_not_rounded(raw, value, kind)
    return value


def check_count_not_rounded(raw: object, value: float, kind: IndicatorKind | str) -> None:
    """Return nothing if the count `value` read from `raw` is exact; only 2**53 itself needs a look at `raw`.

    An integer or numeric text just above 2**53 (such as 2**53 + 1) reads as the float 2**53.

    Raises
    ------
    ValueRejected
        If `raw` spells a count above 2**53 that was rounded down to it.
    """
    if kind != "count" or value != MAX_COUNT or isinstance(raw, float):
        return
    try:
        exact = Decimal(raw.strip()) if isinstance(raw, str) else Decimal(int(raw))
    except (ArithmeticError, ValueError, TypeError):
        return
    if exact > MAX_COUNT:
        raise ValueRejected(f"count {raw!s:.40} is above 2**53 = {MAX_COUNT}, the largest count stored exactly")


def _short(raw: object, limit: int = 40) -> str:
    """Return repr(raw) cut to `limit` characters."""
    text = repr(raw)
    return text if len(text) <= limit else text[: limit - 3] + "..."

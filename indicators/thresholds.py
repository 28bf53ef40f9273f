"""Suggested thresholds for exceedance and spillover questions: a region's own recent quantiles.

A threshold is in the indicator's unit (deaths per month, a share in 0..1, kg, ...) and asks
"does some month reach at least this value?". Without a view of one's own, a useful threshold is
one the region reaches in some months but not most: its 75th or 90th percentile of recent months.
This is the one rule: the service's thresholds route, its page and its demo all call it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indicators.errors import InputError

DEFAULT_LEVELS = (0.5, 0.75, 0.9)
DEFAULT_MONTHS = 24


@dataclass(frozen=True)
class SuggestedThreshold:
    """One suggested threshold: the quantile level, the region's quantile there, and the threshold to ask."""

    level: float
    quantile: float
    threshold: float

    def to_dict(self) -> dict:
        """Return {"level","quantile","threshold"}."""
        return {"level": self.level, "quantile": self.quantile, "threshold": self.threshold}


def suggested_thresholds(values: Sequence[float], *, kind: str = "count", levels: Sequence[float] = DEFAULT_LEVELS,
                         months: int = DEFAULT_MONTHS) -> list[SuggestedThreshold]:
    """Return one SuggestedThreshold per level from the last `months` observed values (oldest first).

    For counts the threshold is the smallest whole number above the quantile (a month "above the
    region's usual 75th-percentile month"); for shares and amounts it is the quantile itself,
    rounded to 3 significant digits. Raises InputError when no value is given or a level is not in (0, 1).
    """
    recent = [float(v) for v in values][-months:] if months > 0 else []
    if not recent:
        raise InputError("no observed values to take quantiles from",
                         hint="Store observations of this region and indicator first, or give a longer window.")
    bad = [level for level in levels if not 0 < level < 1]
    if bad or not levels:
        raise InputError(f"quantile levels must be in (0, 1), got {list(levels)}",
                         hint="Ask for levels such as 0.5,0.75,0.9.")
    out = []
    for level in levels:
        quantile = float(np.percentile(recent, 100 * level))
        threshold = math.floor(quantile) + 1 if kind == "count" else float(f"{quantile:.3g}")
        out.append(SuggestedThreshold(level=float(level), quantile=quantile, threshold=threshold))
    return out

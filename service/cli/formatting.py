"""How the CLI writes numbers (the API keeps full precision; `--json` prints it as answered): probabilities as
percentages with one decimal, as the page does; differences of probabilities in percentage points; counts and
other levels rounded to what a reader can use (no 3.950000000000003)."""

from __future__ import annotations

import math
from typing import Any

DASH = "-"


def percent(p: float | None) -> str:
    """Return a probability as a percentage with one decimal ("12.3%"), or "-" when missing."""
    return DASH if p is None or not math.isfinite(p) else f"{100 * p:.1f}%"


def points(p: float | None) -> str:
    """Return a difference of probabilities in signed percentage points ("+4.2 pts"), or "-" when missing."""
    return DASH if p is None or not math.isfinite(p) else f"{100 * p:+.1f} pts"


def interval(bounds: list[float] | None, write=percent) -> str:
    """Return an interval [lo, hi] written with `write` ("8.8% to 18.0%"), or "-" when missing."""
    return DASH if not bounds else f"{write(bounds[0])} to {write(bounds[1])}"


def mc_error(se: float | None) -> str:
    """Return a Monte Carlo standard error of a probability in percentage points ("+-0.4 pts"), or "-"."""
    return DASH if se is None or not math.isfinite(se) else f"+-{100 * se:.1f} pts"


def level(value: float | None) -> str:
    """Return a level (count, amount, share of the indicator) rounded to what a reader uses.

    As the page's chart for 10 and above (whole numbers, thousands separated from 1,000); one decimal from 1 to 10;
    two below 1 (shares such as 0.25), two significant digits below 0.01; zero is "0"; "-" when missing.
    """
    if value is None or not math.isfinite(value):
        return DASH
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.0f}"
    if size >= 1:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}"
    return "0" if value == 0 else f"{value:.2g}"


def levels(values: list[float | None]) -> list[str]:
    """Return levels of one table column written with one number of decimals, the one `level` gives the column's
    largest value (so a column reads "3", "16", not "3.0", "16"); "-" for missing ones."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return [DASH] * len(values)
    size = max(finite)
    if size < 0.01:
        return [level(v) for v in values]
    decimals = 0 if size >= 10 else 1 if size >= 1 else 2
    return [DASH if v is None or not math.isfinite(v) else f"{v:,.{decimals}f}" for v in values]


def quantile_header(q: str | float) -> str:
    """Return a quantile level as a column header: 0.05 -> "q05", 0.5 -> "q50", 0.975 -> "q97.5"."""
    percent_ = round(100 * float(q), 6)
    return f"q{percent_:02.0f}" if percent_ == int(percent_) else f"q{percent_:g}"


def number(value: float | int | None) -> str:
    """Return a threshold or other given number without float noise ("3.95", "23", "0.125"), or "-"."""
    if value is None:
        return DASH
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def gate_text(gate: dict[str, Any] | None) -> str:
    """Return the gate thresholds a version was judged by, as a reader reads them ("R-hat <= 1.05, bulk ESS >= 200,
    divergences <= 5"), or "thresholds not recorded" for versions fitted before versions recorded them."""
    if not gate or "max_rhat" not in gate:
        return "thresholds not recorded"
    return (f"R-hat <= {gate['max_rhat']:g}, bulk ESS >= {gate['min_ess_bulk']:g}, "
            f"divergences <= {gate['max_divergences']}")


def gate_verdict(passed: bool, gate: dict[str, Any] | None) -> str:
    """Return a version's verdict with the gate that judged it: "passed the demo gate (R-hat <= 1.05, ...)"."""
    name = (gate or {}).get("name") or "gate"
    return f"{'passed' if passed else 'failed'} the {name} ({gate_text(gate)})"

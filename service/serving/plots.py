"""Fan chart of a region's history and forecast, drawn with matplotlib (Agg) into PNG bytes.

The chart shows the observed history as a line, the forecast median as a dashed line, and
the central 50% and 90% predictive intervals as two shaded bands. It takes plain lists so
that both the HTTP route (from a served forecast) and the CLI can use it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from indicators.errors import InputError

# Colours shared with the web page's inline SVG (service/web/style.css).
HISTORY_COLOUR = "#1f2937"
MEDIAN_COLOUR = "#b45309"
BAND_90_COLOUR = "#fcd9a8"
BAND_50_COLOUR = "#f59e0b"

BANDS = ((0.05, 0.95, BAND_90_COLOUR, "90% interval"), (0.25, 0.75, BAND_50_COLOUR, "50% interval"))
REQUIRED_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def quantile_value(row: Mapping, level: float) -> float:
    """Return the value of quantile `level` in a row keyed by floats or strings ("0.05", "0.5")."""
    for key, value in row.items():
        try:
            if math.isclose(float(key), level, abs_tol=1e-9):
                return float(value)
        except (TypeError, ValueError):
            continue
    raise InputError(f"quantile {level} is missing from a forecast row (keys: {sorted(map(str, row))})",
                     hint=f"Ask the forecast for quantiles {','.join(map(str, REQUIRED_QUANTILES))}.")


def quantile_rows_from_steps(steps: Sequence[Mapping]) -> tuple[list[str], list[dict]]:
    """Return (periods, quantile rows) from the `steps` of a forecast answer (DESIGN section 5)."""
    periods = [str(step["period"]) for step in steps]
    rows = [dict(step["quantiles"]) for step in steps]
    return periods, rows


def fan_chart_png(history_periods: Sequence[str], history_values: Sequence[float | None],
                  forecast_periods: Sequence[str], quantile_rows: Sequence[Mapping], *,
                  title: str = "", ylabel: str = "", width_inches: float = 9.0,
                  height_inches: float = 4.5, dpi: int = 100) -> bytes:
    """Return PNG bytes of a fan chart: history line, forecast median, 50% and 90% bands.

    `history_values` may hold None/NaN for missing months (drawn as gaps). Each row of
    `quantile_rows` maps quantile levels (0.05, 0.25, 0.5, 0.75, 0.95, as floats or strings)
    to values for the matching entry of `forecast_periods`.
    """
    if len(history_periods) != len(history_values):
        raise InputError(f"{len(history_periods)} history periods but {len(history_values)} values",
                         hint="Give one history value (or None) per period.")
    if len(forecast_periods) != len(quantile_rows):
        raise InputError(f"{len(forecast_periods)} forecast periods but {len(quantile_rows)} quantile rows",
                         hint="Give one quantile row per forecast period.")
    if not forecast_periods and not history_periods:
        raise InputError("nothing to draw: no history and no forecast",
                         hint="Pass at least one history point or one forecast step.")

    periods = list(history_periods) + [p for p in forecast_periods if p not in set(history_periods)]
    position = {period: index for index, period in enumerate(periods)}
    history_x = [position[p] for p in history_periods]
    history_y = [math.nan if v is None else float(v) for v in history_values]
    forecast_x = [position[p] for p in forecast_periods]
    levels = {q: [quantile_value(row, q) for row in quantile_rows] for q in REQUIRED_QUANTILES}

    figure = Figure(figsize=(width_inches, height_inches), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # Bands and median start at the last observed month so the fan grows out of the history.
    anchor_x, anchor_y = last_observed(history_x, history_y)
    fan_x = ([anchor_x] if anchor_x is not None else []) + forecast_x
    for low, high, colour, label in BANDS:
        lows = ([anchor_y] if anchor_x is not None else []) + levels[low]
        highs = ([anchor_y] if anchor_x is not None else []) + levels[high]
        if fan_x:
            axes.fill_between(fan_x, lows, highs, color=colour, linewidth=0, label=label)
    if history_x:
        axes.plot(history_x, history_y, color=HISTORY_COLOUR, linewidth=1.6, label="observed")
    if fan_x:
        medians = ([anchor_y] if anchor_x is not None else []) + levels[0.5]
        axes.plot(fan_x, medians, color=MEDIAN_COLOUR, linewidth=1.8, linestyle="--", label="median")
    if forecast_x and history_x:
        axes.axvline(forecast_x[0] - 0.5, color="#9ca3af", linewidth=0.8, linestyle=":")

    ticks = tick_positions(len(periods))
    axes.set_xticks(ticks, [periods[i] for i in ticks], rotation=0, fontsize=8)
    axes.set_xlim(-0.5, len(periods) - 0.5)
    axes.set_ylim(bottom=min(0.0, axes.get_ylim()[0]))
    axes.set_ylabel(ylabel)
    axes.set_title(title, loc="left", fontsize=11)
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    axes.spines[["top", "right"]].set_visible(False)
    figure.legend(loc="outside upper right", fontsize=8, frameon=False, ncols=4)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def last_observed(xs: Sequence[int], ys: Sequence[float]) -> tuple[int | None, float | None]:
    """Return (x, y) of the last non-missing history point, or (None, None) if there is none."""
    for x, y in zip(reversed(xs), reversed(ys), strict=True):
        if not math.isnan(y):
            return x, y
    return None, None


def tick_positions(n_periods: int, max_ticks: int = 8) -> list[int]:
    """Return indices of at most `max_ticks` evenly spaced period labels, always the last one."""
    if n_periods <= 0:
        return []
    step = max(1, math.ceil(n_periods / max_ticks))
    ticks = list(range(n_periods - 1, -1, -step))[::-1]
    return ticks

"""service.serving.plots.fan_chart_png: a real PNG whose pixels show history, bands and median where expected."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import image as mpimg

from indicators.errors import InputError
from service.serving.plots import (
    BAND_50_COLOUR,
    BAND_90_COLOUR,
    HISTORY_COLOUR,
    fan_chart_png,
    quantile_rows_from_steps,
    tick_positions,
)

HISTORY = [f"2024-{m:02d}" for m in range(1, 13)]
FORECAST = [f"2025-{m:02d}" for m in range(1, 7)]


def widening_rows(centre: float = 30.0) -> list[dict]:
    """Quantile rows whose intervals widen with the step, keyed by strings as the API sends them."""
    rows = []
    for step in range(1, len(FORECAST) + 1):
        spread = 4.0 * step
        rows.append({"0.05": centre - 2 * spread, "0.25": centre - spread, "0.5": centre,
                     "0.75": centre + spread, "0.95": centre + 2 * spread})
    return rows


def decode(png: bytes) -> np.ndarray:
    """Return the PNG as an (height, width, 3) uint8 RGB array."""
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    return (pixels[..., :3] * 255).round().astype(np.uint8)


def plot_area(pixels: np.ndarray) -> np.ndarray:
    """Return the pixels below the title/legend strip (the top 12% of the image)."""
    return pixels[int(0.12 * pixels.shape[0]):]


def colour_mask(pixels: np.ndarray, hex_colour: str) -> np.ndarray:
    """Return a boolean mask of the pixels that have exactly `hex_colour`."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    return np.all(pixels == rgb, axis=-1)


def test_png_has_the_requested_size_and_signature():
    png = fan_chart_png(HISTORY, list(range(20, 32)), FORECAST, widening_rows(), title="IRN attacks",
                        width_inches=8, height_inches=4, dpi=100)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert decode(png).shape == (400, 800, 3)


def test_bands_lie_right_of_the_history_and_widen_with_the_horizon():
    pixels = plot_area(decode(fan_chart_png(HISTORY, [25.0] * 12, FORECAST, widening_rows())))
    band50 = colour_mask(pixels, BAND_50_COLOUR)
    band90 = colour_mask(pixels, BAND_90_COLOUR)
    history = colour_mask(pixels, HISTORY_COLOUR)
    assert band50.sum() > 500 and band90.sum() > 500, (band50.sum(), band90.sum())
    band_columns = np.flatnonzero(band50.any(axis=0) | band90.any(axis=0))
    history_columns = np.flatnonzero(history.any(axis=0))
    # the fan grows out of the last observed month: no band pixels over the earlier history
    assert np.median(history_columns) < band_columns.min() < band_columns.max()
    # the 90% band's height grows from its first to its last column
    heights = band90.sum(axis=0) + band50.sum(axis=0)
    left, right = band_columns.min(), band_columns.max()
    assert heights[right - 5] > 3 * max(heights[left + 5], 1), (heights[left + 5], heights[right - 5])


def test_history_gaps_and_float_keys_are_accepted():
    rows = [{float(k): v for k, v in row.items()} for row in widening_rows()]
    values = [10.0, None, 12.0, float("nan")] + [15.0] * 8
    pixels = decode(fan_chart_png(HISTORY, values, FORECAST, rows))
    assert colour_mask(pixels, BAND_50_COLOUR).sum() > 500


def test_forecast_without_history_still_draws_the_fan():
    pixels = plot_area(decode(fan_chart_png([], [], FORECAST, widening_rows())))
    assert colour_mask(pixels, BAND_90_COLOUR).sum() > 500
    assert colour_mask(pixels, HISTORY_COLOUR).sum() < 50


def test_rows_from_forecast_steps_round_trip():
    steps = [{"period": p, "mean": 30.0, "quantiles": q} for p, q in zip(FORECAST, widening_rows())]
    periods, rows = quantile_rows_from_steps(steps)
    assert periods == FORECAST and rows[2]["0.95"] == 30.0 + 24.0


@pytest.mark.parametrize(
    ("history_values", "periods", "rows", "needle"),
    [
        ([1.0] * 11, FORECAST, widening_rows(), "12 history periods but 11 values"),
        ([1.0] * 12, FORECAST[:3], widening_rows(), "3 forecast periods but 6 quantile rows"),
        ([1.0] * 12, FORECAST, [{"0.5": 1.0}] * 6, "quantile 0.05 is missing"),
    ],
)
def test_inconsistent_inputs_are_refused_with_a_clear_message(history_values, periods, rows, needle):
    with pytest.raises(InputError, match=needle):
        fan_chart_png(HISTORY, history_values, periods, rows)


def test_nothing_to_draw_is_refused():
    with pytest.raises(InputError, match="nothing to draw"):
        fan_chart_png([], [], [], [])


def test_ticks_are_few_and_include_the_last_period():
    assert tick_positions(0) == []
    assert tick_positions(5) == [0, 1, 2, 3, 4]
    ticks = tick_positions(130)
    assert len(ticks) <= 8 and ticks[-1] == 129

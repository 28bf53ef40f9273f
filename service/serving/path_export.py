"""A version's stored forecast paths written out for analysts: CSV, Parquet or NPZ, every value exactly as stored.

CSV and Parquet are long tables, one row per (path, period, region): `path` (0-based simulated path),
`draw_group` (the posterior draw the path was simulated from; left out when the version's paths are not grouped),
`period` (YYYY-MM), `region` and `value`. NPZ holds the arrays as stored: `paths[path, step, region]` (float64),
`periods`, `regions`, and `groups` when stored. The joint paths keep the dependence between months and regions,
so any event (a run of months, two regions at once) can be computed from them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd

from indicators.errors import InputError
from service.errors import listed

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
               "npz": "application/octet-stream"}
CHUNK_ROWS = 50_000
"""Rows of the long table written per piece of a streamed CSV (about 1.2 MB of text)."""


def chosen_regions(forecast, regions: str | None) -> list[str]:
    """Return the regions asked by `?regions=A,B` (all of the forecast's when None or empty), in the asked order.

    Raises InputError naming unknown regions and the ones the version covers.
    """
    asked = [part.strip() for part in (regions or "").split(",") if part.strip()]
    if not asked:
        return list(forecast.regions)
    unknown = [region for region in asked if region not in forecast.regions]
    if unknown:
        raise InputError(f"unknown region(s) {listed(unknown)}; the paths cover {listed(list(forecast.regions))}",
                         hint="Ask for regions the model covers, or leave `regions` out for all of them.")
    return list(dict.fromkeys(asked))


def long_table(forecast, regions: list[str], first: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Return the long table (path, [draw_group,] period, region, value) of `regions`' paths `first` to `stop`
    (default: all), in path, period, region order."""
    columns = [forecast.regions.index(region) for region in regions]
    values = forecast.paths[first:stop, :, columns]
    n_paths, n_steps, n_regions = values.shape
    path = np.repeat(np.arange(first, first + n_paths, dtype=np.int64), n_steps * n_regions)
    frame = {"path": path}
    if forecast.groups is not None:
        frame["draw_group"] = np.repeat(forecast.groups[first:stop], n_steps * n_regions)
    frame["period"] = np.tile(np.repeat(np.asarray(forecast.periods, dtype=object), n_regions), n_paths)
    frame["region"] = np.tile(np.asarray(regions, dtype=object), n_paths * n_steps)
    frame["value"] = values.reshape(-1)
    return pd.DataFrame(frame)


def csv_chunks(forecast, regions: list[str], rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """Return an iterator of the CSV of `regions`' paths in pieces of about `rows` rows (whole paths; the header
    in the first), together byte for byte the CSV of the whole long table: memory stays one piece's worth."""
    n_paths, n_steps = forecast.paths.shape[:2]
    per_piece = max(1, rows // max(1, n_steps * len(regions)))
    for first in range(0, max(n_paths, 1), per_piece):  # no path: the header alone
        piece = long_table(forecast, regions, first, first + per_piece)
        yield piece.to_csv(index=False, header=first == 0, lineterminator="\n").encode()


def encoded_paths(forecast, regions: list[str], fmt: str) -> bytes:
    """Return the paths of `regions` encoded as `fmt` (csv, parquet or npz); raises InputError for another format."""
    if fmt == "npz":
        columns = [forecast.regions.index(region) for region in regions]
        arrays = {"paths": forecast.paths[:, :, columns], "periods": np.asarray(forecast.periods, dtype=str),
                  "regions": np.asarray(regions, dtype=str)}
        if forecast.groups is not None:
            arrays["groups"] = forecast.groups
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()
    if fmt == "csv":
        return b"".join(csv_chunks(forecast, regions))
    if fmt == "parquet":
        buffer = io.BytesIO()
        long_table(forecast, regions).to_parquet(buffer, engine="pyarrow", index=False)
        return buffer.getvalue()
    raise InputError(f"unknown paths format {fmt!r}", hint="Use format=csv, parquet or npz.")

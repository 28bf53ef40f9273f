"""Panel: an immutable region x period grid of indicator values, NaN where a month is missing.

Missing months are missing, never zero: every array a Panel hands out has NaN in cells that
were not observed. Periods run without gaps from the first to the last observed month of the
whole panel; regions keep the order of the region list given (regions without data stay, all NaN).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from indicators.errors import InputError, PeriodError, UnknownIndicator, UnknownRegion
from indicators.periods import index_to_period, parse_period, period_to_index
from indicators.regions import Region, check_normalise, validate_regions, weights_matrix
from indicators.validation import FIELDS, Observation


class Panel:
    """Region x period values per indicator (NaN = missing) plus the region graph; never mutated.

    Build it with `Panel.from_frame` or `Panel.from_observations`.
    """

    __slots__ = ("_regions", "_ids", "_position", "_periods", "_data", "_normalise", "_hash", "_weights")

    def __init__(
        self,
        regions: Sequence[Region],
        periods: Sequence[str],
        data: dict[str, np.ndarray],
        normalise: str = "target",
    ) -> None:
        """Store an already-consistent panel (arrays shaped (len(regions), len(periods))); prefer the builders."""
        self._regions = tuple(regions)
        self._ids = tuple(region.id for region in self._regions)
        self._position = {rid: i for i, rid in enumerate(self._ids)}
        self._periods = tuple(periods)
        self._normalise = check_normalise(normalise)
        shape = (len(self._ids), len(self._periods))
        frozen = {}
        for name in sorted(data):
            array = np.array(data[name], dtype=float)
            if array.shape != shape:
                raise InputError(f"indicator {name}: values have shape {array.shape}, expected {shape}")
            array.setflags(write=False)
            frozen[name] = array
        self._data = frozen
        self._hash: str | None = None
        self._weights: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        regions: Sequence[dict] | Sequence[Region] | None = None,
        normalise: str = "target",
    ) -> Panel:
        """Return a Panel from a long frame with columns region, indicator, period, value.

        `regions` is the region list (dicts as in the API, validated here); its order is the
        panel's region order. Without it, the regions are the sorted ids found in the frame,
        with no neighbours. Rows whose value is NaN are treated as missing.

        Raises
        ------
        InputError
            Missing columns, a non-numeric or infinite value, or a duplicate (region, indicator, period).
        UnknownRegion
            A region in the frame that is not in `regions`.
        PeriodError
            A malformed period.
        BatchRejected
            If `regions` is not a consistent region list.
        """
        missing = [name for name in FIELDS if name not in df.columns]
        if missing:
            raise InputError(f"frame lacks column(s) {', '.join(missing)}; expected {', '.join(FIELDS)}")
        region_col = df["region"].astype(str).to_numpy()
        if regions is None:
            region_list = [Region(rid, rid) for rid in sorted(set(region_col))]
        else:
            region_list = validate_regions(list(regions))
        frame = _observed_cells(df, region_col)
        position = {region.id: i for i, region in enumerate(region_list)}
        unknown = sorted(set(frame["region"]) - set(position))
        if unknown:
            raise UnknownRegion(f"frame has region(s) not in the region list: {', '.join(unknown[:10])}")
        month = _canonical_months(frame)
        _reject_duplicate_cells(frame)
        if len(frame) == 0:
            return cls(region_list, [], {}, normalise)
        periods, data = _value_grids(frame, month, position, len(region_list))
        return cls(region_list, periods, data, normalise)

    @classmethod
    def from_observations(
        cls,
        observations: Iterable[Observation] | Iterable[dict],
        regions: Sequence[dict] | Sequence[Region] | None = None,
        normalise: str = "target",
    ) -> Panel:
        """Return a Panel from Observation objects (or dicts with the four fields); see `from_frame`."""
        items = list(observations)
        if all(type(o) is Observation for o in items):
            frame = pd.DataFrame(
                {
                    "region": [o.region for o in items],
                    "indicator": [o.indicator for o in items],
                    "period": [o.period for o in items],
                    "value": np.fromiter((o.value for o in items), dtype=float, count=len(items)),
                }
            )
        else:
            records = [o.to_dict() if isinstance(o, Observation) else dict(o) for o in items]
            frame = pd.DataFrame.from_records(records, columns=list(FIELDS))
        return cls.from_frame(frame, regions=regions, normalise=normalise)

    @classmethod
    def from_arrays(
        cls,
        regions: Sequence[dict] | Sequence[Region],
        start: str,
        data: dict[str, np.ndarray],
        normalise: str = "target",
    ) -> Panel:
        """Return a Panel from arrays (n_regions, n_months) starting at month `start`, NaN = missing.

        Leading and trailing months where nothing is observed are dropped, as in `from_frame`.

        Raises
        ------
        InputError
            Arrays of different shapes or not matching the region count.
        """
        region_list = validate_regions(list(regions))
        arrays = {name: np.asarray(values, dtype=float) for name, values in data.items()}
        shapes = {array.shape for array in arrays.values()}
        if len(shapes) > 1 or (shapes and next(iter(shapes))[0] != len(region_list)):
            raise InputError(f"arrays must all be (n_regions={len(region_list)}, n_months), got {sorted(shapes)}")
        n_months = next(iter(shapes))[1] if shapes else 0
        first = period_to_index(parse_period(start))
        return cls._trimmed(region_list, first, n_months, arrays, normalise)

    @classmethod
    def _trimmed(cls, regions: Sequence[Region], first: int, n_months: int, data: dict, normalise: str) -> Panel:
        """Return a Panel keeping only months from the first to the last observed one."""
        observed = np.zeros(n_months, dtype=bool)
        for array in data.values():
            observed |= ~np.isnan(array).all(axis=0)
        if not observed.any():
            return cls(regions, [], {name: np.empty((len(regions), 0)) for name in data}, normalise)
        lo = int(np.argmax(observed))
        hi = n_months - int(np.argmax(observed[::-1]))
        periods = [index_to_period(first + i) for i in range(lo, hi)]
        return cls(regions, periods, {name: array[:, lo:hi] for name, array in data.items()}, normalise)

    # ------------------------------------------------------------------ accessors
    @property
    def regions(self) -> list[str]:
        """Return the region ids in panel order."""
        return list(self._ids)

    @property
    def periods(self) -> list[str]:
        """Return the months "YYYY-MM" of the panel, continuous from the first to the last."""
        return list(self._periods)

    @property
    def indicators(self) -> list[str]:
        """Return the indicator ids held by the panel, sorted."""
        return list(self._data)

    @property
    def normalise(self) -> str:
        """Return the default weight normalisation of this panel: "target" or "source"."""
        return self._normalise

    @property
    def region_dicts(self) -> list[dict]:
        """Return the region list (API dict shape) in panel order, neighbours limited to panel regions."""
        return [region.to_dict() for region in self._regions]

    @property
    def start(self) -> str | None:
        """Return the first month of the panel (None if it has no months)."""
        return self._periods[0] if self._periods else None

    @property
    def end(self) -> str | None:
        """Return the last month of the panel (None if it has no months)."""
        return self._periods[-1] if self._periods else None

    @property
    def shape(self) -> tuple[int, int]:
        """Return (n_regions, n_periods)."""
        return (len(self._ids), len(self._periods))

    def has(self, indicator: str) -> bool:
        """Return True if the panel holds `indicator`."""
        return indicator in self._data

    def values(self, indicator: str) -> np.ndarray:
        """Return a copy of the (n_regions, n_periods) float values of `indicator`, NaN = missing.

        Raises
        ------
        UnknownIndicator
            If the panel does not hold `indicator` (the message lists those it holds).
        """
        try:
            return self._data[indicator].copy()
        except KeyError:
            held = ", ".join(self._data) or "none"
            raise UnknownIndicator(f"panel has no indicator {indicator!r} (it holds: {held})") from None

    def region_index(self, region: str) -> int:
        """Return the row of `region` in the panel arrays.

        Raises
        ------
        UnknownRegion
            If the region is not in the panel.
        """
        try:
            return self._position[region]
        except KeyError:
            raise UnknownRegion(f"region {region!r} is not in this panel") from None

    def period_index(self, period: str) -> int:
        """Return the column of month `period` in the panel arrays.

        Raises
        ------
        PeriodError
            If the month is malformed or outside the panel.
        """
        canonical = parse_period(period)
        if not self._periods or not self._periods[0] <= canonical <= self._periods[-1]:
            raise PeriodError(f"period {canonical} is outside the panel ({self.start} to {self.end})")
        return period_to_index(canonical) - period_to_index(self._periods[0])

    def neighbours(self, region: str) -> list[str]:
        """Return the neighbour ids of `region` that are in the panel.

        Raises
        ------
        UnknownRegion
            If the region is not in the panel.
        """
        return list(self._regions[self.region_index(region)].neighbours)

    def weights(self, normalise: str | None = None) -> np.ndarray:
        """Return W (n_regions x n_regions), W[q, r] = weight of source q into target r, in panel order.

        `normalise` defaults to the panel's own ("target" or "source"; see `weights_matrix`).
        """
        key = check_normalise(normalise or self._normalise)
        if key not in self._weights:
            matrix = weights_matrix(list(self._regions), list(self._ids), key)
            matrix.setflags(write=False)
            self._weights[key] = matrix
        return self._weights[key].copy()

    # ------------------------------------------------------------------ derived panels
    def until(self, period: str) -> Panel:
        """Return the panel without the months after `period` (it still starts at the panel start).

        Raises
        ------
        PeriodError
            If `period` is malformed or before the panel start.
        """
        canonical = parse_period(period)
        if not self._periods or canonical >= self._periods[-1]:
            return self
        if canonical < self._periods[0]:
            raise PeriodError(f"period {canonical} is before the panel start {self._periods[0]}")
        stop = period_to_index(canonical) - period_to_index(self._periods[0]) + 1
        data = {name: array[:, :stop] for name, array in self._data.items()}
        return Panel(self._regions, self._periods[:stop], data, self._normalise)

    def select_regions(self, ids: Sequence[str]) -> Panel:
        """Return a panel of the regions `ids` (in that order), edges to other regions dropped.

        Months are trimmed to those observed in the selected regions.

        Raises
        ------
        UnknownRegion
            If an id is not in the panel.
        InputError
            If an id is repeated.
        """
        ids = list(ids)
        unknown = [rid for rid in ids if rid not in self._position]
        if unknown:
            raise UnknownRegion(f"region(s) not in this panel: {', '.join(map(str, unknown[:10]))}")
        if len(set(ids)) != len(ids):
            raise InputError("select_regions got a region id twice")
        rows = [self._position[rid] for rid in ids]
        regions = [self._regions[i].restricted_to(ids) for i in rows]
        data = {name: array[rows] for name, array in self._data.items()}
        first = period_to_index(self._periods[0]) if self._periods else 0
        return Panel._trimmed(regions, first, len(self._periods), data, self._normalise)

    # ------------------------------------------------------------------ export
    def to_frame(self) -> pd.DataFrame:
        """Return the observed cells only, as a frame with columns region, indicator, period, value."""
        parts = []
        ids = np.array(self._ids, dtype=object)
        periods = np.array(self._periods, dtype=object)
        for name, array in self._data.items():
            rows, cols = np.nonzero(~np.isnan(array))
            parts.append(pd.DataFrame({"region": ids[rows], "indicator": name, "period": periods[cols],
                                       "value": array[rows, cols]}))
        if not parts:
            return pd.DataFrame({name: pd.Series(dtype=object if name != "value" else float) for name in FIELDS})
        return pd.concat(parts, ignore_index=True)

    def content_hash(self) -> str:
        """Return the sha256 hex digest of the sorted observed cells (region, indicator, period, value).

        Independent of row order, region order and int/float spelling of a value: equal data, equal hash.
        """
        if self._hash is None:
            lines = []
            for name, array in self._data.items():
                rows, cols = np.nonzero(~np.isnan(array))
                for r, c in zip(rows.tolist(), cols.tolist()):
                    lines.append(f"{self._ids[r]}\t{name}\t{self._periods[c]}\t{float(array[r, c]) + 0.0!r}")
            lines.sort()
            self._hash = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
        return self._hash

    def __repr__(self) -> str:
        span = f"{self.start}..{self.end}" if self._periods else "no months"
        return f"Panel({len(self._ids)} regions, {span}, indicators={self.indicators}, normalise={self._normalise!r})"



# ---------------------------------------------------------------------- steps of Panel.from_frame
def _observed_cells(df: pd.DataFrame, region_col: np.ndarray) -> pd.DataFrame:
    """Return the rows with a value (NaN dropped): region, indicator, raw period, float value.

    Raises InputError for a non-numeric or an infinite value.
    """
    values = pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float)
    raw_values = df["value"].to_numpy()
    bad = np.isnan(values) & ~pd.isna(raw_values)
    if bad.any():
        raise InputError(f"frame has non-numeric value(s), e.g. {raw_values[bad][0]!r}")
    if np.isinf(values).any():
        raise InputError("frame has infinite value(s)")
    keep = ~np.isnan(values)
    indicator_col = df["indicator"].astype(str).to_numpy()
    return pd.DataFrame({"region": region_col[keep], "indicator": indicator_col[keep],
                         "period": df["period"].to_numpy()[keep], "value": values[keep]})


def _canonical_months(frame: pd.DataFrame) -> np.ndarray:
    """Return each row's month index, the frame's periods rewritten in place as YYYY-MM (PeriodError if malformed)."""
    canonical = {raw: parse_period(raw) for raw in pd.unique(frame["period"])}
    frame["period"] = frame["period"].map(canonical)
    month_of = {period: period_to_index(period) for period in set(canonical.values())}
    return frame["period"].map(month_of).to_numpy(dtype=np.int64)


def _reject_duplicate_cells(frame: pd.DataFrame) -> None:
    """Raise InputError if a (region, indicator, period) cell appears twice; returns nothing otherwise."""
    duplicated = frame.duplicated(["region", "indicator", "period"])
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        example = f"{first['region']} {first['indicator']} {first['period']}"
        raise InputError(f"frame has {int(duplicated.sum())} duplicate cell(s), e.g. {example}")


def _value_grids(
    frame: pd.DataFrame, month: np.ndarray, position: dict[str, int], n_regions: int
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Return (months from the frame's first to its last, one region x month array per indicator, NaN = missing)."""
    start, end = int(month.min()), int(month.max())
    periods = [index_to_period(i) for i in range(start, end + 1)]
    row = frame["region"].map(position).to_numpy(dtype=np.int64)
    col = month - start
    data: dict[str, np.ndarray] = {}
    indicator_col = frame["indicator"].to_numpy()
    values = frame["value"].to_numpy()
    for name in sorted(set(indicator_col)):
        mask = indicator_col == name
        array = np.full((n_regions, len(periods)), np.nan)
        array[row[mask], col[mask]] = values[mask]
        data[name] = array
    return periods, data

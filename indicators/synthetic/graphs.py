"""Region layouts and hidden cells, shared by the synthetic panel generators."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from indicators.errors import InputError
from indicators.regions import Region, validate_regions

GraphSpec = str | Sequence[dict] | Sequence[Region]


def make_graph(n_regions: int, graph: GraphSpec = "grid") -> list[Region]:
    """Return validated regions for a named layout ("grid": rook moves on a near-square grid,
    "ring": a cycle) with ids "R01".., or validate and return a given region list.

    Raises
    ------
    InputError
        Unknown layout name or fewer than 1 region.
    BatchRejected
        If a given region list is inconsistent.
    """
    if not isinstance(graph, str):
        return validate_regions(list(graph))
    if n_regions < 1:
        raise InputError(f"n_regions must be >= 1, got {n_regions}")
    width = max(2, len(str(n_regions)))
    ids = [f"R{i + 1:0{width}d}" for i in range(n_regions)]
    links: list[set[int]] = [set() for _ in range(n_regions)]
    if graph == "grid":
        cols = math.ceil(math.sqrt(n_regions))
        for i in range(n_regions):
            if (i + 1) % cols and i + 1 < n_regions:
                links[i].add(i + 1)
                links[i + 1].add(i)
            if i + cols < n_regions:
                links[i].add(i + cols)
                links[i + cols].add(i)
    elif graph == "ring":
        for i in range(n_regions):
            j = (i + 1) % n_regions
            if j != i:
                links[i].add(j)
                links[j].add(i)
    else:
        raise InputError(f"graph must be 'grid', 'ring' or a list of regions, got {graph!r}")
    return validate_regions(
        [{"id": ids[i], "name": f"Region {i + 1}", "neighbours": [ids[j] for j in sorted(links[i])]}
         for i in range(n_regions)]
    )


def panel_regions(n_regions: int, n_periods: int, graph: GraphSpec) -> tuple[list[Region], list[str]]:
    """Return (regions, their ids) of a synthetic panel laid out as `graph` (see `make_graph`).

    Raises InputError for fewer than 2 periods, or as `make_graph` does.
    """
    regions = make_graph(n_regions, graph)
    if n_periods < 2:
        raise InputError(f"n_periods must be >= 2, got {n_periods}")
    return regions, [region.id for region in regions]


def hide_cells(rng: np.random.Generator, shape: tuple[int, int], missing_fraction: float) -> np.ndarray:
    """Return a boolean mask of cells to hide; the first and last month always keep region 0."""
    if not 0.0 <= missing_fraction < 1.0:
        raise InputError(f"missing_fraction must be in [0, 1), got {missing_fraction}")
    mask = rng.random(shape) < missing_fraction
    mask[0, 0] = mask[0, -1] = False
    return mask


def isolated(weights: np.ndarray) -> np.ndarray:
    """Return True for regions that receive no neighbour weight."""
    return weights.sum(axis=0) == 0

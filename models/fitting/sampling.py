"""Draw a posterior with nutpie (compiled once per shape family, refitted with new data), PyMC's NUTS or ADVI."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from models.core.errors import SamplingFailed
from models.core.spec import SamplerConfig
from models.fitting.compile_cache import notice_compiling

_COMPILED: dict[str, Any] = {}
"""nutpie compiled models kept in-process, keyed by spec id + parameter shapes."""


def clear_compiled_cache() -> None:
    """Forget every compiled model kept in this process (the next nutpie fit compiles again)."""
    _COMPILED.clear()


def compiled_cache_size() -> int:
    """Return how many compiled models this process keeps."""
    return len(_COMPILED)


def sample_posterior(
    build: Callable[[], pm.Model],
    data: dict[str, np.ndarray],
    config: SamplerConfig,
    *,
    cache_key: str,
    keep: list[str] | None = None,
) -> tuple[xr.DataTree, dict[str, float]]:
    """Return (posterior DataTree with groups posterior + sample_stats, timings {compile, sampling}).

    `build()` returns the PyMC model with its `pm.Data` set to `data`; for nutpie a compiled
    model with the same `cache_key` is reused and only its data swapped (`with_data`).
    `keep` lists the posterior variables to keep (default: every variable without an "obs" dim).
    nutpie runs with `config`'s adaptation and target_accept (nutpie's defaults where None).
    """
    timings = {"compile_seconds": 0.0, "sampling_seconds": 0.0}
    try:
        if config.sampler == "nutpie":
            tree = _sample_nutpie(build, data, config, cache_key, timings)
        elif config.sampler == "pymc":
            tree = _sample_pymc(build, config, timings)
        else:
            tree = _sample_advi(build, config, timings)
    except SamplingFailed:
        raise
    except Exception as exc:  # the sampler's own failures, reported with the sampler named
        raise SamplingFailed(f"{config.sampler} sampling failed: {type(exc).__name__}: {exc}") from exc
    return _trim(tree, keep), timings


def _sample_nutpie(build, data, config, cache_key, timings) -> xr.DataTree:
    import nutpie

    start = time.perf_counter()
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        notice_compiling(cache_key)
        compiled = nutpie.compile_pymc_model(build())
        _COMPILED[cache_key] = compiled
    else:
        known = {var.name for var in compiled.shared_var_keys}  # pm.Data the graph does not use are dropped
        compiled = compiled.with_data(**{k: v for k, v in data.items() if k in known})
        # with_data swaps the data of the log density only; PyMC's initial-point function reads the model's
        # own shared variables, so without this every fit would start where the first fit's data put it and
        # the draws would depend on which fit compiled the model in this process.
        for var in compiled.shared_var_keys:
            if var.name in data:
                var.set_value(np.asarray(data[var.name], dtype=var.type.dtype))
    timings["compile_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    tree = nutpie.sample(
        compiled,
        **config.run_lengths(),
        seed=config.seed,
        progress_bar=False,
        save_warmup=False,
        **config.nutpie_options(),
    )
    timings["sampling_seconds"] = time.perf_counter() - start
    return tree


@contextmanager
def _quiet_model(build, timings) -> Iterator[pm.Model]:
    """Yield the built model, entered, with PyMC's warnings silenced; times the build (compile_seconds) and the
    block (sampling_seconds) into `timings`."""
    start = time.perf_counter()
    model = build()
    timings["compile_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield model
    timings["sampling_seconds"] = time.perf_counter() - start


def _sample_pymc(build, config, timings) -> xr.DataTree:
    with _quiet_model(build, timings):
        return pm.sample(**config.run_lengths(), random_seed=config.seed, nuts_sampler="pymc", progressbar=False,
                         compute_convergence_checks=False)


def _sample_advi(build, config, timings) -> xr.DataTree:
    with _quiet_model(build, timings):
        approx = pm.fit(n=max(10 * config.tune, 5000), method="advi", random_seed=config.seed, progressbar=False)
        tree = approx.sample(config.draws * config.chains, random_seed=config.seed)
    post = tree["posterior"].to_dataset()
    # ADVI returns one chain; reshape into `chains` pseudo-chains so shapes match the samplers.
    post = post.isel(chain=0).drop_vars("chain", errors="ignore")
    post = post.assign_coords(draw=np.arange(post.sizes["draw"]))
    n = config.draws
    parts = [post.isel(draw=slice(i * n, (i + 1) * n)).assign_coords(draw=np.arange(n)) for i in range(config.chains)]
    stacked = xr.concat(parts, dim="chain").assign_coords(chain=np.arange(config.chains))
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((config.chains, n), bool))},
                       coords={"chain": np.arange(config.chains), "draw": np.arange(n)})
    return xr.DataTree.from_dict({"posterior": stacked, "sample_stats": stats})


def _trim(tree: xr.DataTree, keep: list[str] | None) -> xr.DataTree:
    post = tree["posterior"].to_dataset()
    names = keep if keep is not None else [v for v in post.data_vars if "obs" not in post[v].dims]
    missing = [n for n in names if n not in post]
    if missing:
        raise SamplingFailed(f"the sampler returned no draws for {missing}")
    post = post[names]
    for name in post.data_vars:
        if not np.all(np.isfinite(post[name].values)):
            raise SamplingFailed(f"non-finite draws for {name!r}")
    stats = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else xr.Dataset()
    keep_stats = [s for s in ("diverging",) if s in stats]
    if not keep_stats:
        stats = xr.Dataset({"diverging": (("chain", "draw"),
                                          np.zeros((post.sizes["chain"], post.sizes["draw"]), bool))},
                           coords={"chain": post["chain"], "draw": post["draw"]})
        keep_stats = ["diverging"]
    stats = stats[keep_stats]
    stats["diverging"] = stats["diverging"].astype(bool)
    post.attrs = {}
    stats.attrs = {}
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})

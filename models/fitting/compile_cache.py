"""Where compiled models persist between processes, and the notice a first compile gives.

PyTensor compiles a model's log density with numba and keeps the compiled pieces in its compile directory
(`<base_compiledir>/numba`). Unless `PYTENSOR_FLAGS` is set, importing `models` points that directory at
`$XDG_CACHE_HOME/fragility-pytensor` (default `~/.cache/fragility-pytensor`) before PyTensor is imported, so
every process of the library, the service and its workers shares one cache.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from pathlib import Path

from models.core.errors import CompileNotice

_NOTICED: set[str] = set()
_LOCK = threading.Lock()


def default_compile_cache() -> Path:
    """Return the library's default PyTensor compile directory ($XDG_CACHE_HOME or ~/.cache, /fragility-pytensor)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fragility-pytensor"


def use_default_compile_cache() -> None:
    """Set PYTENSOR_FLAGS to the default compile directory when it is unset and PyTensor is not imported yet;
    returns nothing (an explicit PYTENSOR_FLAGS, or PyTensor already configured, wins)."""
    if "PYTENSOR_FLAGS" not in os.environ and "pytensor" not in sys.modules:
        os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={default_compile_cache()}"


def compile_cache_dir() -> str:
    """Return the PyTensor compile directory in use (numba-compiled pieces live in its `numba` folder)."""
    from pytensor import config

    return str(config.base_compiledir)


def notice_compiling(shape: str) -> None:
    """Warn (CompileNotice, once per model shape and process) that a model is being compiled, and where the
    compiled pieces are cached; returns nothing."""
    with _LOCK:
        if shape in _NOTICED:
            return
        _NOTICED.add(shape)
    warnings.warn(CompileNotice(
        f"compiling the model (first nutpie fit of this shape in this process: {shape}); this takes a while "
        f"(about 20-60 s on 2 cores). PyTensor's compiled pieces are cached in {compile_cache_dir()} for next "
        "time; nutpie's sampler wrapper is compiled again in every new process, then the model is reused with "
        "new data for the rest of the process"), stacklevel=5)


use_default_compile_cache()

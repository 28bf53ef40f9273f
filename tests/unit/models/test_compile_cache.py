"""Where compiled models persist between processes, and the notice a first compile gives."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from models.core.errors import CompileNotice
from models.fitting.compile_cache import compile_cache_dir, default_compile_cache, notice_compiling

ROOT = Path(__file__).resolve().parents[3]


def test_the_default_cache_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_compile_cache() == tmp_path / "fragility-pytensor"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_compile_cache() == Path.home() / ".cache" / "fragility-pytensor"


@pytest.mark.parametrize("flags", [None, "base_compiledir={tmp}/explicit"], ids=["unset", "explicit"])
def test_importing_models_sets_the_default_cache_only_when_pytensor_flags_are_unset(tmp_path, flags):
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env.update(XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    if flags:
        env["PYTENSOR_FLAGS"] = flags.format(tmp=tmp_path)
    code = "import models, pytensor; print(pytensor.config.base_compiledir)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = tmp_path / ("explicit" if flags else "fragility-pytensor")
    assert done.stdout.strip().splitlines()[-1] == str(expected)


def test_a_compile_is_noticed_once_per_shape_naming_the_cache():
    shape = f"spec-{uuid.uuid4().hex}|R=4|K=0"
    with pytest.warns(CompileNotice, match=r"compiling the model \(first nutpie fit of this shape") as caught:
        notice_compiling(shape)
    assert compile_cache_dir() in str(caught[0].message) and shape in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        notice_compiling(shape)  # the same shape again: silent

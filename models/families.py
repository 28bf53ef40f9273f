"""The registry of model families: name -> model class, simulator and default priors.

Every lookup of a family goes through here (ModelSpec validation, forecasting, backtests, the service's
fit jobs and request schemas). A family is a subpackage that calls `register_family` when it is imported;
importing `models` registers count, share and amount. Adding a family is adding one such folder (see
`models.family.FamilyModel` for what its model class implements, and `tests/toy_family` for a small one).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from models.errors import ModelError, SpecError


@dataclass(frozen=True)
class Family:
    """One registered family.

    `kind`: the indicator kind it models ("count", "share" or "amount", as in `indicators`);
    `model`: its model class (`models.family.FamilyModel` contract); `simulate`: the function stepping all
    regions forward, ``f(spec, params, state, *, idx, uniforms, cut, scenario, covariates) -> paths
    (draws, horizon, regions)``, turning exactly one uniform per (path, step, region) into a value by an
    inverse CDF so that common random numbers keep cut and uncut runs comparable; `priors`: the default
    priors per form (``{form: {parameter: prior}}``, see models.priors); `conditions`: whether `simulate` also
    takes ``condition=(region index, threshold)`` and returns (paths, no_crossing), drawing that region below
    the threshold with the exact probability of staying there (the exact event grid, models.count.tails).
    """

    name: str
    kind: str
    model: type
    simulate: Callable[..., Any]
    priors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    conditions: bool = False


_REGISTRY: dict[str, Family] = {}
FAMILIES: Mapping[str, Family] = MappingProxyType(_REGISTRY)
"""Read-only view of the registered families, by name."""


def register_family(name: str, *, kind: str, model: type, simulate: Callable[..., Any],
                    priors: Mapping[str, Mapping[str, Any]] | None = None, conditions: bool | None = None) -> Family:
    """Return the Family registered under `name` (registering it again replaces the earlier entry);
    `kind` is the indicator kind it models, the rest as in `Family` (`conditions` None: whether `simulate`
    has a `condition` parameter, read once here)."""
    if not isinstance(name, str) or not name:
        raise SpecError(f"a family name must be a non-empty string, got {name!r}")
    if conditions is None:
        conditions = "condition" in inspect.signature(simulate).parameters
    entry = Family(name=name, kind=kind, model=model, simulate=simulate, priors=dict(priors or {}),
                   conditions=bool(conditions))
    _REGISTRY[name] = entry
    return entry


def family(name: str) -> Family:
    """Return the registered Family `name`; raises SpecError naming the known families otherwise."""
    entry = _REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None:
        raise SpecError(f"unknown model family {name!r}; use one of {', '.join(_REGISTRY)}")
    return entry


def import_families(modules: str) -> list[str]:
    """Return the names of the modules imported from `modules` (comma-separated, blanks ignored); each
    registers its family on import. Raises ModelError naming a module that cannot be imported."""
    names = [m.strip() for m in modules.split(",") if m.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ModelError(f"cannot import the model family module {name!r}: {exc}") from exc
    return names

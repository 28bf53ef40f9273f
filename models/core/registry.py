"""The registry of model families: name -> Family (model class, simulator, default priors), and the checks of
what a family declares.

Every lookup of a family goes through here (ModelSpec validation, forecasting, backtests, the service's
fit jobs and request schemas). Entries are made by `models.fitting.registration.register_family(ModelClass)`,
which a family's subpackage calls when it is imported (see there for plug-in families, and
`models.fitting.family_model.FamilyModel` for what a model class declares and implements; `tests/toy_family`
is a small family). What a family declares is checked twice, with the checks below: its class when it is
defined (`FamilyModel.__init_subclass__`), the whole entry when it is registered. This module is below the
model classes: it knows them only as the classes its entries hold.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from indicators import IndicatorKind
from models.core.errors import ModelError, SpecError

SIMULATOR_SIGNATURE = "simulate(spec, params, state, *, idx, uniforms, cut, scenario, covariates) -> paths"
"""How forecasting calls a family's simulator (models.questions.simulation); a conditioning one also takes
condition=."""
KINDS = tuple(kind.value for kind in IndicatorKind)


@dataclass(frozen=True)
class Family:
    """One registered family.

    `kind`: the indicator kind it models ("count", "share" or "amount", as in `indicators`);
    `model`: its model class (a `models.fitting.family_model.FamilyModel`); `simulate`: the function stepping all
    regions forward, ``f(spec, params, state, *, idx, uniforms, cut, scenario, covariates) -> paths
    (draws, horizon, regions)``, turning exactly one uniform per (path, step, region) into a value by an
    inverse CDF so that common random numbers keep cut and uncut runs comparable; `priors`: the default
    priors per form (``{form: {parameter: prior}}``, see models.fitting.priors); `conditions`: whether `simulate` also
    takes ``condition=(region index, threshold)`` and returns (paths, no_crossing), drawing that region below
    the threshold with the exact probability of staying there (the exact event grid, models.count.tails).
    The model class carries the same kind, simulator and priors as class attributes.
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


def record_family(entry: Family) -> Family:
    """Return `entry`, entered in the registry under its name (replacing an earlier entry of that name); the
    checks are the caller's (models.fitting.registration.register_family)."""
    _REGISTRY[entry.name] = entry
    return entry


def check_kind(kind: Any, owner: str) -> None:
    """Raise SpecError unless `kind` is an indicator kind (`indicators.IndicatorKind`)."""
    if kind not in KINDS:
        raise SpecError(f"{owner}: kind must be one of {', '.join(KINDS)} (the indicator kind it models), "
                        f"got {kind!r}")


def check_priors(priors: Any, owner: str) -> None:
    """Raise SpecError unless `priors` is a non-empty {form: {parameter: prior dict}}."""
    shape = "{form: {parameter: prior}}, e.g. {'pooled': {'log_mu': {'dist': 'Normal', 'mu': 0, 'sigma': 1}}}"
    if not isinstance(priors, Mapping) or not priors:
        raise SpecError(f"{owner}: default priors must be a non-empty {shape}, got {priors!r}")
    for form, by_parameter in priors.items():
        if not isinstance(form, str) or not isinstance(by_parameter, Mapping) or not by_parameter:
            raise SpecError(f"{owner}: default priors must be {shape}; form {form!r} maps to {by_parameter!r}")
        for parameter, prior in by_parameter.items():
            if not isinstance(parameter, str) or not isinstance(prior, Mapping):
                raise SpecError(f"{owner}: default priors must be {shape}; {form}/{parameter} is {prior!r}, "
                                "not a prior dict (models.fitting.priors)")


def takes_condition(simulate: Callable[..., Any]) -> bool:
    """Return whether `simulate` has a `condition` parameter."""
    try:
        return "condition" in inspect.signature(simulate).parameters
    except (TypeError, ValueError):
        return False


def check_simulator(simulate: Any, owner: str, *, conditions: bool = False) -> None:
    """Raise SpecError unless `simulate` can be called as forecasting calls it (and with condition= when
    `conditions`)."""
    if not callable(simulate):
        raise SpecError(f"{owner}: the simulator must be a function {SIMULATOR_SIGNATURE}, got {simulate!r}")
    keywords = dict.fromkeys(("idx", "uniforms", "cut", "scenario", "covariates"))
    if conditions:
        keywords["condition"] = None
    try:
        inspect.signature(simulate).bind(None, None, None, **keywords)
    except ValueError:
        return  # a builtin without a readable signature: nothing to check
    except TypeError as exc:
        name = getattr(simulate, "__qualname__", repr(simulate))
        raise SpecError(f"{owner}: the simulator {name}{inspect.signature(simulate)} cannot be called as "
                        f"{SIMULATOR_SIGNATURE}{' (and condition=)' if conditions else ''}: {exc}") from None


def family(name: str) -> Family:
    """Return the registered Family `name`; raises SpecError naming the known families otherwise."""
    entry = _REGISTRY.get(name) if isinstance(name, str) else None
    if entry is None:
        raise SpecError(f"unknown model family {name!r}; use one of {', '.join(_REGISTRY)}")
    return entry


def import_families(modules: str | Iterable[str]) -> list[str]:
    """Return the names of the modules imported from `modules` (names, or one comma-separated string, blanks
    ignored); each registers its family on import. This is how a test registers a family defined outside an
    installed package (``import_families("tests.toy_family")``) and how a spawned process learns its parent's
    families (`family_modules`). Raises ModelError naming a module that cannot be imported."""
    names = modules.split(",") if isinstance(modules, str) else list(modules)
    names = [m.strip() for m in names if m.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ModelError(f"cannot import the model family module {name!r}: {exc}") from exc
    return names


def family_modules() -> list[str]:
    """Return the modules defining the registered families' model classes, sorted (importing them in another
    process registers the same families there)."""
    return sorted({entry.model.__module__ for entry in _REGISTRY.values()})

"""The registry of model families: name -> model class, simulator and default priors.

Every lookup of a family goes through here (ModelSpec validation, forecasting, backtests, the service's
fit jobs and request schemas). A family is a subpackage that calls `register_family(ModelClass)` when it is
imported; importing `models` registers count, share and amount, then the families installed packages declare
as entry points of the group "fragility.families" (`load_plugin_families`). Adding a family is adding one such folder
(see `models.family.FamilyModel` for what its model class declares and implements, and `tests/toy_family`
for a small one). What a family declares is checked twice: its class when it is defined
(`FamilyModel.__init_subclass__`, with the checks below), the whole entry when it is registered.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any

from indicators import IndicatorKind
from models.errors import ModelError, SpecError

SIMULATOR_SIGNATURE = "simulate(spec, params, state, *, idx, uniforms, cut, scenario, covariates) -> paths"
"""How forecasting calls a family's simulator (models.forecasting); a conditioning one also takes condition=."""
KINDS = tuple(kind.value for kind in IndicatorKind)
PLUGIN_GROUP = "fragility.families"
"""The entry-point group through which an installed package adds families (`load_plugin_families`)."""


@dataclass(frozen=True)
class Family:
    """One registered family.

    `kind`: the indicator kind it models ("count", "share" or "amount", as in `indicators`);
    `model`: its model class (a `models.family.FamilyModel`); `simulate`: the function stepping all
    regions forward, ``f(spec, params, state, *, idx, uniforms, cut, scenario, covariates) -> paths
    (draws, horizon, regions)``, turning exactly one uniform per (path, step, region) into a value by an
    inverse CDF so that common random numbers keep cut and uncut runs comparable; `priors`: the default
    priors per form (``{form: {parameter: prior}}``, see models.priors); `conditions`: whether `simulate` also
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


def register_family(model: type, /, *, kind: str | None = None, simulate: Callable[..., Any] | None = None,
                    priors: Mapping[str, Mapping[str, Any]] | None = None, conditions: bool | None = None,
                    name: str | None = None) -> Family:
    """Return the Family of the model class `model` (a `models.FamilyModel` subclass), registered under
    `model.family` (registering a name again replaces the earlier entry).

    The class declares `family`, `kind`, `simulate` and `default_priors`; a keyword given here stands in for
    a declaration the class lacks (and is set on the class) or replaces it in this entry. `conditions` None:
    whether the simulator has a `condition` parameter. Raises SpecError saying what is wrong and what to do:
    a model that is no complete FamilyModel subclass, an unknown kind, priors not ``{form: {parameter:
    prior}}``, a simulator that cannot be called as forecasting calls it.
    """
    check_model_class(model)
    assert isinstance(model, type)
    if name is None:
        name = model.family
    if not isinstance(name, str) or not name:
        raise SpecError(f"a family name must be a non-empty string, got {name!r}: set `family = \"...\"` on "
                        f"{model.__name__}")
    if model.family and model.family != name:
        raise SpecError(f"{model.__name__}.family is {model.family!r}, so its fits name that family, but it is "
                        f"registered as {name!r}; register it under {model.family!r} or subclass it with "
                        f"family = {name!r}")
    kind = model.kind if kind is None else kind
    simulate = model.simulate if simulate is None else simulate
    priors = model.default_priors if priors is None else priors
    check_kind(kind, f"family {name!r}")
    check_priors(priors, f"family {name!r}")
    if simulate is None:
        raise SpecError(f"family {name!r} has no simulator: declare `simulate = staticmethod(f)` on "
                        f"{model.__name__} or pass simulate=f, with {SIMULATOR_SIGNATURE}")
    if conditions is None:
        conditions = takes_condition(simulate)
    check_simulator(simulate, f"family {name!r}", conditions=bool(conditions))
    given = {"family": name, "kind": kind, "simulate": simulate, "default_priors": priors}
    for attr, value in given.items():  # what the class lacks, its registration gives it
        if not getattr(model, attr):
            setattr(model, attr, staticmethod(value) if attr == "simulate" else value)
    entry = Family(name=name, kind=str(kind), model=model, simulate=simulate, priors=dict(priors),
                   conditions=bool(conditions))
    _REGISTRY[name] = entry
    return entry


def check_model_class(model: Any) -> None:
    """Raise SpecError unless `model` is a FamilyModel subclass with every required method implemented."""
    from models.family import FamilyModel  # models.family imports this module

    if not (isinstance(model, type) and issubclass(model, FamilyModel)):
        raise SpecError(f"a family's model must be a subclass of models.FamilyModel, got {model!r}; subclass it and "
                        "implement prepare, data_arrays and build")
    if inspect.isabstract(model):
        missing = ", ".join(sorted(getattr(model, "__abstractmethods__", ())))
        raise SpecError(f"{model.__name__} does not implement {missing}; a family's model class implements "
                        "everything models.FamilyModel marks abstract")


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
                                "not a prior dict (models.priors)")


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


def load_plugin_families(found: Iterable[EntryPoint] | None = None) -> list[str]:
    """Return the names of the families that installed packages add, registered here.

    Each entry point of the group "fragility.families" (`found`, default the installed ones) names a module
    that registers its family on import (``toy = "my_package.toy"``) or a `FamilyModel` subclass, which is
    registered (``toy = "my_package.toy:ToyModel"``). Raises ModelError naming an entry point that cannot be
    loaded; SpecError from registering a bad class.
    """
    before = dict(_REGISTRY)
    for point in entry_points(group=PLUGIN_GROUP) if found is None else found:
        try:
            loaded = point.load()
        except Exception as exc:  # any error raised by importing a third-party module
            raise ModelError(f"cannot load the model family plug-in {point.name!r} ({point.value}): {exc}") from exc
        if isinstance(loaded, type):
            register_family(loaded)
    return [name for name, entry in _REGISTRY.items() if before.get(name) != entry]

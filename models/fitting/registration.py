"""Registering a model family: `register_family(ModelClass)` checks a `FamilyModel` subclass's declarations
and enters it in the registry (models.core.registry); `load_plugin_families` registers the families that
installed packages declare as entry points of the group "fragility.families".

Importing `models` registers count, share and amount (each subpackage calls `register_family` when imported),
then the plug-in families. A family outside any installed package (a test's) is registered by importing its
module (models.core.registry.import_families).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from models.core.errors import ModelError, SpecError
from models.core.registry import (
    FAMILIES,
    SIMULATOR_SIGNATURE,
    Family,
    check_kind,
    check_priors,
    check_simulator,
    record_family,
    takes_condition,
)
from models.fitting.family_model import FamilyModel

PLUGIN_GROUP = "fragility.families"
"""The entry-point group through which an installed package adds families (`load_plugin_families`)."""


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
    return record_family(entry)


def check_model_class(model: Any) -> None:
    """Raise SpecError unless `model` is a FamilyModel subclass with every required method implemented."""
    if not (isinstance(model, type) and issubclass(model, FamilyModel)):
        raise SpecError(f"a family's model must be a subclass of models.FamilyModel, got {model!r}; subclass it and "
                        "implement prepare, data_arrays and build")
    if inspect.isabstract(model):
        missing = ", ".join(sorted(getattr(model, "__abstractmethods__", ())))
        raise SpecError(f"{model.__name__} does not implement {missing}; a family's model class implements "
                        "everything models.FamilyModel marks abstract")




def load_plugin_families(found: Iterable[EntryPoint] | None = None) -> list[str]:
    """Return the names of the families that installed packages add, registered here.

    Each entry point of the group "fragility.families" (`found`, default the installed ones) names a module
    that registers its family on import (``toy = "my_package.toy"``) or a `FamilyModel` subclass, which is
    registered (``toy = "my_package.toy:ToyModel"``). Raises ModelError naming an entry point that cannot be
    loaded; SpecError from registering a bad class.
    """
    before = dict(FAMILIES)
    for point in entry_points(group=PLUGIN_GROUP) if found is None else found:
        try:
            loaded = point.load()
        except Exception as exc:  # any error raised by importing a third-party module
            raise ModelError(f"cannot load the model family plug-in {point.name!r} ({point.value}): {exc}") from exc
        if isinstance(loaded, type):
            register_family(loaded)
    return [name for name, entry in FAMILIES.items() if before.get(name) != entry]

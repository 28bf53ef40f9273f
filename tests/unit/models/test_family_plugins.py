"""Plug-in families: an installed package adds a family through an entry point of the group
"fragility.families" (a module that registers on import, or a FamilyModel subclass that the loader registers);
models/ reads no environment variable to find families; a test registers its own family by importing it."""

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import models
from models import ModelError, SpecError
from models.core.registry import _REGISTRY, family, family_modules, import_families
from models.fitting.registration import PLUGIN_GROUP, load_plugin_families
from tests.toy_family import ToyModel


class PluginToy(ToyModel):
    family = "toy_plugin"


def point(name: str, value: str) -> EntryPoint:
    """Return an entry point of the families' group."""
    return EntryPoint(name=name, value=value, group=PLUGIN_GROUP)


@pytest.fixture
def unregister_plugin():
    """Remove the plug-in family a test registers."""
    yield
    _REGISTRY.pop("toy_plugin", None)


def test_an_entry_point_naming_a_model_class_registers_it(unregister_plugin):
    found = [point("toy_plugin", f"{__name__}:PluginToy")]
    assert load_plugin_families(found) == ["toy_plugin"]
    assert family("toy_plugin").model is PluginToy and family("toy_plugin").kind == "count"
    assert load_plugin_families(found) == []  # the same entry again: nothing new


def test_an_entry_point_naming_a_module_imports_it_and_it_registers_itself():
    assert load_plugin_families([point("toy", "tests.toy_family")]) == []  # already imported: nothing new
    assert family("toy").model is ToyModel


def test_a_broken_plug_in_is_an_error_naming_it():
    with pytest.raises(ModelError, match="plug-in 'gone' .*no_such_module"):
        load_plugin_families([point("gone", "no_such_module.family")])


def test_a_plug_in_class_is_checked_like_any_registration():
    with pytest.raises(SpecError, match="subclass of models.FamilyModel"):
        load_plugin_families([point("not_a_model", "builtins:int")])


def test_a_test_registers_its_family_by_importing_it_and_processes_learn_the_modules():
    assert import_families(["tests.toy_family", " "]) == ["tests.toy_family"]
    assert "tests.toy_family.model" in family_modules() and "models.count.model" in family_modules()
    with pytest.raises(ModelError, match="no_such_family_module"):
        import_families("no_such_family_module")


def test_models_reads_no_environment_but_pytensors_cache_setting():
    sources = [p for p in Path(models.__file__).parent.rglob("*.py") if p.name != "compile_cache.py"]
    assert not [path for path in sources if "environ" in path.read_text() or "getenv" in path.read_text()]

"""Registries and plugin loading: names, aliases, clear errors, and broken plugins that never break the others."""

from __future__ import annotations

import inspect
import json
import types
from importlib import metadata
from typing import Any

import pytest
from click.testing import CliRunner

import unlearn_core.plugins as plugins_module
from unlearn_core import hookimpl, hookspecs
from unlearn_core.cli import main
from unlearn_core.errors import ConfigError, PluginLoadError, UnknownNameError
from unlearn_core.plugins import DISABLE_ENV, load_plugins
from unlearn_core.registry import Registry

# ---- in-process test plugins -----------------------------------------------------------------------------------------


class FakeMethod:
    """Stands in for an UnlearningMethod: the registry only stores it."""

    name = "FakeMethod"
    aliases: tuple[str, ...] = ()
    defaults: dict[str, Any] = {}


def make_plugin(name: str, **hooks: Any) -> types.ModuleType:
    """A plugin module called ``name`` whose attributes are the given hook implementations."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def methods_plugin(name: str, *method_names: str) -> types.ModuleType:
    """A plugin registering one fresh class per name through ``register_methods``."""

    def register_methods(register: Any) -> None:
        for method_name in method_names:
            register(method_name, type(method_name, (FakeMethod,), {"name": method_name}))

    return make_plugin(name, register_methods=register_methods)


def broken_plugin(name: str) -> types.ModuleType:
    """A plugin whose hook raises."""

    def register_methods(register: Any) -> None:
        raise RuntimeError("this plugin is broken on purpose")

    return make_plugin(name, register_methods=register_methods)


@pytest.fixture(autouse=True)
def _no_disabled_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLE_ENV, raising=False)


def info_of(plugins: plugins_module.Plugins, name: str) -> plugins_module.PluginInfo:
    return next(i for i in plugins.infos if i.name == name)


# ---- Registry --------------------------------------------------------------------------------------------------------


def owned_registry(kind: str = "method") -> Registry[Any]:
    registry: Registry[Any] = Registry(kind)
    registry.current_owner = "first-plugin"
    return registry


def test_register_and_get_returns_the_same_object():
    registry = owned_registry()
    item = object()
    registry.register("NPO", item)
    assert registry.get("NPO") is item
    assert "NPO" in registry
    assert registry.names() == ["NPO"]
    assert registry.owner("NPO") == "first-plugin"


@pytest.mark.parametrize("spelling", ["npo", "NPO", "Npo", "nPo"])
def test_get_is_case_insensitive(spelling):
    registry = owned_registry()
    item = object()
    registry.register("NPO", item)
    assert registry.get(spelling) is item
    assert spelling in registry
    assert registry.canonical(spelling) == "NPO"


def test_aliases_find_the_item_but_are_not_listed_as_names():
    registry = owned_registry()
    item = object()
    registry.register("GradAscent", item, aliases=("GA",))
    assert registry.get("ga") is item
    assert registry.get("GA") is item
    assert registry.canonical("ga") == "GradAscent"
    assert registry.names() == ["GradAscent"]
    assert list(registry) == ["GradAscent"]


def test_names_are_sorted_and_by_owner_groups_them():
    registry = owned_registry()
    registry.register("b", object())
    registry.register("a", object())
    registry.current_owner = "second-plugin"
    registry.register("c", object())
    assert registry.names() == ["a", "b", "c"]
    assert registry.by_owner("first-plugin") == ["a", "b"]
    assert registry.by_owner("second-plugin") == ["c"]


def test_registering_the_same_object_twice_is_harmless():
    registry = owned_registry()
    item = object()
    registry.register("NPO", item)
    registry.register("npo", item)
    assert registry.get("NPO") is item


def test_duplicate_name_error_names_both_plugins():
    registry = owned_registry()
    registry.register("NPO", object())
    registry.current_owner = "second-plugin"
    with pytest.raises(ConfigError) as info:
        registry.register("npo", object())
    message = str(info.value)
    assert "first-plugin" in message
    assert "second-plugin" in message
    assert "npo" in message.lower()
    assert "\n" not in message


def test_alias_clashing_with_another_plugins_name_is_a_duplicate():
    registry = owned_registry()
    first = object()
    registry.register("GA", first)
    registry.current_owner = "second-plugin"
    with pytest.raises(ConfigError, match="first-plugin.*second-plugin"):
        registry.register("GradAscent", object(), aliases=("ga",))
    assert registry.get("GA") is first


def test_unknown_name_lists_the_choices_and_suggests_a_close_one():
    registry = owned_registry()
    for name in ("NPO", "GradAscent", "GradDiff"):
        registry.register(name, object())
    with pytest.raises(UnknownNameError) as info:
        registry.get("GradDif")
    message = str(info.value)
    assert "unknown method 'GradDif'" in message
    assert "did you mean 'GradDiff'?" in message
    assert "GradAscent, GradDiff, NPO" in message
    assert info.value.exit_code == 2
    assert "\n" not in message


def test_unknown_name_without_a_close_match_still_lists_the_choices():
    registry = owned_registry("benchmark")
    registry.register("tofu", object())
    with pytest.raises(UnknownNameError) as info:
        registry.get("zzzzzz")
    assert "did you mean" not in str(info.value)
    assert "valid choices: tofu" in str(info.value)


def test_unknown_name_in_an_empty_registry_says_none_installed():
    with pytest.raises(UnknownNameError, match="none installed"):
        Registry("benchmark").get("tofu")


@pytest.mark.parametrize(("typed", "expected"), [("npoo", "NPO"), ("simnp", "SimNPO")])
def test_suggestion_ignores_case_like_the_lookup_does(typed, expected):
    registry = owned_registry()
    for name in ("NPO", "SimNPO", "GradAscent", "GradDiff"):
        registry.register(name, object())
    with pytest.raises(UnknownNameError, match=f"did you mean '{expected}'"):
        registry.get(typed)


def test_a_name_of_a_failed_plugin_says_that_plugin_failed():
    registry = owned_registry()
    registry.note_failed_plugin("muse", "ImportError: no module named foo")
    with pytest.raises(PluginLoadError, match="plugin 'muse' failed to load: ImportError: no module named foo"):
        registry.get("MUSE")


# ---- load_plugins with in-process plugins ----------------------------------------------------------------------------


def test_builtins_load_without_entry_points():
    plugins = load_plugins(entry_points=False)
    assert plugins.failures() == []
    assert "tiny-llama" in plugins.models
    assert "truth_ratio" in plugins.metrics
    assert plugins.methods.names() == []
    assert plugins.benchmarks.names() == []


def test_good_plugin_registers_a_method():
    plugins = load_plugins(extra=[methods_plugin("good_plugin", "Shiny")], entry_points=False)
    assert plugins.failures() == []
    assert plugins.methods.get("shiny").name == "Shiny"
    assert plugins.methods.owner("Shiny") == "good_plugin"
    info = info_of(plugins, "good_plugin")
    assert info.provides["methods"] == ["Shiny"]
    assert info.distribution == "(in process)"
    assert info.error is None


def test_hook_taking_fewer_arguments_than_the_spec_is_accepted():
    """hookspecs.py: an implementation may take fewer arguments than the spec, so specs can grow."""

    def register_methods() -> None:
        return None

    plugins = load_plugins(extra=[make_plugin("quiet_plugin", register_methods=register_methods)], entry_points=False)
    assert plugins.failures() == []


def test_broken_plugin_is_recorded_and_others_keep_working():
    extra = [
        methods_plugin("before_plugin", "Before"),
        broken_plugin("broken_plugin"),
        methods_plugin("after", "After"),
    ]
    plugins = load_plugins(extra=extra, entry_points=False)
    failures = plugins.failures()
    assert [f.name for f in failures] == ["broken_plugin"]
    assert failures[0].error == "RuntimeError: this plugin is broken on purpose"
    assert "Traceback" in (failures[0].traceback or "")
    assert plugins.methods.names() == ["After", "Before"]
    assert "tiny-llama" in plugins.models
    with pytest.raises(PluginLoadError, match="broken_plugin"):
        plugins.methods.get("broken_plugin")
    assert not plugins.pm.has_plugin("broken_plugin")
    assert plugins.pm.has_plugin("after")


def test_error_in_a_later_hook_is_recorded():
    def register_benchmarks(register: Any) -> None:
        return None

    def register_methods(register: Any) -> None:
        raise ValueError("bad method")

    plugin = make_plugin("half_plugin", register_benchmarks=register_benchmarks, register_methods=register_methods)
    plugins = load_plugins(extra=[plugin], entry_points=False)
    assert info_of(plugins, "half_plugin").error == "ValueError: bad method"


def test_a_failed_plugin_leaves_nothing_registered():
    def register_methods(register: Any) -> None:
        register("Partial", type("Partial", (FakeMethod,), {}))
        raise RuntimeError("failed after registering one method")

    plugins = load_plugins(extra=[make_plugin("partial_plugin", register_methods=register_methods)], entry_points=False)
    assert info_of(plugins, "partial_plugin").error
    assert "Partial" not in plugins.methods


def test_duplicate_name_across_plugins_is_a_failure_of_the_second():
    extra = [methods_plugin("first_plugin", "Twin"), methods_plugin("second_plugin", "twin", "Other")]
    plugins = load_plugins(extra=extra, entry_points=False)
    assert [f.name for f in plugins.failures()] == ["second_plugin"]
    error = info_of(plugins, "second_plugin").error or ""
    assert "first_plugin" in error and "second_plugin" in error
    assert plugins.methods.owner("Twin") == "first_plugin"
    assert info_of(plugins, "first_plugin").error is None


def test_misspelled_hook_name_is_caught_and_recorded():
    def register_method(register: Any) -> None:  # the spec is register_methods
        register("Typo", FakeMethod)

    extra = [make_plugin("typo_plugin", register_method=register_method), methods_plugin("fine_plugin", "Fine")]
    plugins = load_plugins(extra=extra, entry_points=False)
    assert [f.name for f in plugins.failures()] == ["typo_plugin"]
    assert "register_method" in (info_of(plugins, "typo_plugin").error or "")
    assert "Typo" not in plugins.methods
    assert "Fine" in plugins.methods


def test_hook_with_an_unknown_argument_is_recorded():
    def register_methods(register: Any, colour: str) -> None:
        return None

    plugins = load_plugins(extra=[make_plugin("odd_plugin", register_methods=register_methods)], entry_points=False)
    assert [f.name for f in plugins.failures()] == ["odd_plugin"]
    error = info_of(plugins, "odd_plugin").error or ""
    assert error.startswith("PluginValidationError") and "odd_plugin" in error
    assert "colour" in (info_of(plugins, "odd_plugin").traceback or "")


def test_disable_env_blocks_an_in_process_plugin(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "other, Blocked_Plugin ")
    plugins = load_plugins(extra=[methods_plugin("blocked_plugin", "Blocked")], entry_points=False)
    assert "Blocked" not in plugins.methods
    assert all(i.name != "blocked_plugin" for i in plugins.infos)


def test_each_load_is_a_fresh_plugin_manager():
    first = load_plugins(extra=[methods_plugin("once_plugin", "Once")], entry_points=False)
    second = load_plugins(entry_points=False)
    assert "Once" in first.methods
    assert "Once" not in second.methods
    assert first.pm is not second.pm


# ---- installed entry points ------------------------------------------------------------------------------------------


def test_installed_entry_points_load():
    plugins = load_plugins()
    assert plugins.failures() == []
    names = {i.name for i in plugins.infos}
    assert {"tofu", "npo", "gradascent"} <= names
    assert "tofu" in plugins.benchmarks
    assert {"NPO", "SimNPO", "GradAscent", "GradDiff"} <= set(plugins.methods.names())
    assert plugins.methods.get("ga") is plugins.methods.get("GradAscent")
    tofu = info_of(plugins, "tofu")
    assert tofu.distribution == "unlearn-tofu"
    assert tofu.entry_point == "unlearn_tofu.plugin"
    assert tofu.provides["benchmarks"] == ["tofu"]
    assert info_of(plugins, "npo").provides["methods"] == ["NPO", "SimNPO"]


def test_disable_env_blocks_an_installed_plugin(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "NPO")
    plugins = load_plugins()
    assert all(i.name != "npo" for i in plugins.infos)
    assert "NPO" not in plugins.methods
    assert "GradDiff" in plugins.methods
    assert "tofu" in plugins.benchmarks


BROKEN_EP = metadata.EntryPoint(name="brokenplug", value="unlearn_module_that_does_not_exist.plugin", group="unlearn")


@pytest.fixture
def broken_entry_point(monkeypatch: pytest.MonkeyPatch) -> metadata.EntryPoint:
    """Installed entry points plus one pointing at a module that does not exist."""
    real = metadata.entry_points

    def entry_points(**kwargs: Any) -> list[metadata.EntryPoint]:
        found = list(real(**kwargs))
        if kwargs.get("group") == plugins_module.ENTRY_POINT_GROUP:
            found.append(BROKEN_EP)
        return found

    monkeypatch.setattr(plugins_module.metadata, "entry_points", entry_points)
    return BROKEN_EP


def test_broken_entry_point_is_recorded_and_the_others_load(broken_entry_point):
    plugins = load_plugins()
    assert [f.name for f in plugins.failures()] == ["brokenplug"]
    failure = plugins.failures()[0]
    assert failure.error.startswith("ModuleNotFoundError")
    assert "unlearn_module_that_does_not_exist" in failure.error
    assert failure.entry_point == broken_entry_point.value
    assert "tofu" in plugins.benchmarks
    assert {"NPO", "GradAscent"} <= set(plugins.methods.names())


def test_list_plugins_shows_the_broken_entry_point_and_exits_0(broken_entry_point):
    result = CliRunner().invoke(main, ["list-plugins"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("brokenplug"))
    assert "FAILED: ModuleNotFoundError" in line
    for name in ("tofu", "npo", "gradascent"):
        assert any(ln.startswith(name) and "FAILED" not in ln for ln in result.stdout.splitlines())


def test_list_plugins_json_reports_the_error(broken_entry_point):
    result = CliRunner().invoke(main, ["list-plugins", "--json"])
    assert result.exit_code == 0, result.output
    by_name = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert by_name["brokenplug"]["error"].startswith("ModuleNotFoundError")
    assert by_name["tofu"]["error"] is None


def test_run_with_the_broken_plugin_fails_in_one_line_naming_it(broken_entry_point, monkeypatch):
    import unlearn_core.pipeline.api as api

    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("execution started despite a broken method plugin")

    monkeypatch.setattr(api, "execute", must_not_run)
    result = CliRunner().invoke(main, ["run", "--benchmark", "tofu", "--method", "brokenplug"])
    assert result.exit_code != 0
    assert not isinstance(result.exception, AssertionError)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "brokenplug" in lines[0]
    assert "failed to load" in lines[0]
    assert "Traceback" not in result.output


def test_run_with_a_working_plugin_is_not_blocked_by_a_broken_one(broken_entry_point):
    from unlearn_core.config import resolve_config

    cfg = resolve_config("unlearn", load_plugins(), benchmark="tofu", method="npo")
    assert cfg.values["trainer"]["name"] == "NPO"


# ---- hook documentation ----------------------------------------------------------------------------------------------


def hook_specs() -> list[tuple[str, Any]]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, marker)]


def test_hookspecs_are_found():
    names = [name for name, _ in hook_specs()]
    assert {f"register_{kind}" for kind in plugins_module.KINDS} == set(names)


@pytest.mark.parametrize(("name", "spec"), hook_specs(), ids=[name for name, _ in hook_specs()])
def test_every_hook_is_documented_with_an_example(name, spec):
    doc = inspect.getdoc(spec)
    assert doc, f"{name} has no docstring"
    assert "register(" in doc, f"{name}'s docstring has no register(...) example"
    assert list(inspect.signature(spec).parameters) == ["register"]

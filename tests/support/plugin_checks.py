"""What every method plugin's tests check alike: what its hook registers, and that its plugin module stays light."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pluggy

from unlearn_core import hookspecs
from unlearn_core.registry import Registry


def methods_registered_by(plugin: ModuleType) -> Registry[type]:
    """The method registry as ``plugin``'s ``register_methods`` hook fills it, through pluggy as at load time."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin)
    registry: Registry[type] = Registry("method")
    manager.hook.register_methods(register=registry.register)
    return registry


def assert_plugin_module_imports_only_the_hook_marker(plugin: ModuleType) -> None:
    """The plugin module imports nothing heavy at its top: ``from __future__``, ``typing`` and ``unlearn_core`` only
    (the methods themselves load when registered)."""
    tree = ast.parse(Path(str(plugin.__file__)).read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert {n.module for n in top_level if isinstance(n, ast.ImportFrom)} <= {"__future__", "typing", "unlearn_core"}
    assert not [n for n in top_level if isinstance(n, ast.Import)]

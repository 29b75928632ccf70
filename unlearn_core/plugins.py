"""Plugin manager factory: load built-ins and entry points one by one, record failures, fill the registries."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from unlearn_core import hookspecs
from unlearn_core.registry import Registry

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
DISABLE_ENV = "UNLEARN_DISABLE_PLUGINS"
BUILTIN_MODULES = (
    "unlearn_core.default_plugins.models",
    "unlearn_core.default_plugins.metrics",
    "unlearn_core.default_plugins.attacks",
    "unlearn_core.default_plugins.evaluators",
)
KINDS = ("benchmarks", "methods", "metrics", "models", "datasets", "attacks", "evaluators")


@dataclass
class PluginInfo:
    """What ``unlearn list-plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    entry_point: str
    provides: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (no traceback)."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "provides": self.provides,
            "error": self.error,
        }


class Plugins:
    """A loaded plugin manager plus the registries it filled; create one with ``load_plugins()``."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries: dict[str, Registry[Any]] = {kind: Registry(kind[:-1]) for kind in KINDS}
        self.infos: list[PluginInfo] = []

    @property
    def benchmarks(self) -> Registry[Any]:
        """Registered benchmarks."""
        return self.registries["benchmarks"]

    @property
    def methods(self) -> Registry[Any]:
        """Registered unlearning methods."""
        return self.registries["methods"]

    @property
    def metrics(self) -> Registry[Any]:
        """Registered metrics."""
        return self.registries["metrics"]

    @property
    def models(self) -> Registry[Any]:
        """Registered model presets."""
        return self.registries["models"]

    @property
    def datasets(self) -> Registry[Any]:
        """Registered data sources."""
        return self.registries["datasets"]

    @property
    def attacks(self) -> Registry[Any]:
        """Registered robustness attacks."""
        return self.registries["attacks"]

    @property
    def evaluators(self) -> Registry[Any]:
        """Registered evaluators (``eval=NAME``)."""
        return self.registries["evaluators"]

    def add(self, module: ModuleType | object, info: PluginInfo) -> None:
        """Register one plugin module and collect what it provides; a failure is recorded, not raised."""
        try:
            self.pm.register(module, name=info.name)
            self.pm.check_pending()
            for kind in KINDS:
                hook = getattr(self.pm.hook, f"register_{kind}")
                registry = self.registries[kind]
                registry.current_owner = info.name
                before = set(registry.names())
                impls = [impl for impl in hook.get_hookimpls() if impl.plugin_name == info.name]
                for impl in impls:
                    offered = {"register": registry.register}
                    impl.function(**{arg: offered[arg] for arg in impl.argnames if arg in offered})
                info.provides[kind] = sorted(set(registry.names()) - before)
        except Exception as exc:  # a broken plugin must not break the others
            for registry in self.registries.values():
                registry.remove_owner(info.name)
            info.provides = {}
            self._record_failure(info, exc)
            if self.pm.is_registered(module):
                self.pm.unregister(module)
        self.infos.append(info)

    def _record_failure(self, info: PluginInfo, exc: BaseException) -> None:
        info.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        info.traceback = "".join(traceback.format_exception(exc))
        for registry in self.registries.values():
            registry.note_failed_plugin(info.name, info.error)

    def failures(self) -> list[PluginInfo]:
        """Plugins that failed to load."""
        return [i for i in self.infos if i.error]


def _disabled() -> set[str]:
    return {n.strip().lower() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def load_plugins(extra: list[ModuleType | object] | None = None, *, entry_points: bool = True) -> Plugins:
    """Build a fresh plugin manager: built-ins, then installed entry points one by one, then ``extra`` modules.

    ``extra`` lets tests and notebooks add in-process plugins; ``entry_points=False`` skips installed packages.
    """
    plugins = Plugins()
    disabled = _disabled()
    core_version = _version("unlearn-core")
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(module_name)
        plugins.add(module, PluginInfo(module_name.rsplit(".", 1)[-1], "unlearn-core", core_version, module_name))
    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name.lower() in disabled:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            info = PluginInfo(ep.name, dist, version, ep.value)
            try:
                module = ep.load()
            except BaseException as exc:  # ImportError, SyntaxError, even SystemExit from a broken plugin
                if isinstance(exc, KeyboardInterrupt):
                    raise
                plugins._record_failure(info, exc)
                plugins.infos.append(info)
                continue
            plugins.add(module, info)
    for i, module in enumerate(extra or []):
        name = getattr(module, "__name__", f"extra{i}")
        if name.lower() in disabled:
            continue
        plugins.add(module, PluginInfo(name, "(in process)", "", name))
    return plugins


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def plugin_versions(plugins: Plugins) -> dict[str, str]:
    """``{plugin name: version}`` for provenance records."""
    return {i.name: i.version for i in plugins.infos if not i.error} | {"python": sys.version.split()[0]}

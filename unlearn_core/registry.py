"""Typed registries that plugins fill through the ``register_*`` hooks; the core owns them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from unlearn_core.errors import ConfigError, PluginLoadError, UnknownNameError
from unlearn_core.suggest import unknown_message

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object for one kind (benchmark, method, metric, model preset).

    Names are matched case-insensitively, so ``trainer=NPO`` and ``--method npo`` find the same method.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._display: dict[str, str] = {}
        self._owner: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._primary: set[str] = set()
        self.current_owner = "unknown"

    def register(self, name: str, item: T, *, aliases: tuple[str, ...] = ()) -> None:
        """Add ``item`` under ``name`` (and its aliases); a name taken by another plugin is an error."""
        keys = [key.lower() for key in (name, *aliases)]
        for key, folded in zip((name, *aliases), keys):
            if folded in self._items and self._items[folded] is not item:
                raise ConfigError(
                    f"{self.kind} '{key}' is registered twice: by plugin '{self._owner[folded]}' "
                    f"and by plugin '{self.current_owner}'"
                )
        for folded in keys:
            self._items[folded] = item
            self._display[folded] = name
            self._owner[folded] = self.current_owner
        self._primary.add(name)

    def remove_owner(self, owner: str) -> None:
        """Forget everything one plugin registered (a plugin that failed half-way provides nothing)."""
        for folded in [k for k, o in self._owner.items() if o == owner]:
            self._primary.discard(self._display[folded])
            del self._items[folded], self._display[folded], self._owner[folded]

    def note_failed_plugin(self, plugin: str, error: str) -> None:
        """Remember a plugin that failed to load, so a lookup can say why a name is missing."""
        self._failed[plugin] = error

    def get(self, name: str) -> T:
        """The item registered as ``name``, or a one-line error listing the valid names."""
        folded = str(name).lower()
        if folded in self._items:
            return self._items[folded]
        if folded in {p.lower() for p in self._failed}:
            plugin = next(p for p in self._failed if p.lower() == folded)
            raise PluginLoadError(f"plugin '{plugin}' failed to load: {self._failed[plugin]}")
        raise UnknownNameError(unknown_message(self.kind, str(name), self.names()))

    def canonical(self, name: str) -> str:
        """The name an item was registered under (resolves aliases and case)."""
        self.get(name)
        return self._display[str(name).lower()]

    def owner(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self._owner[str(name).lower()]

    def names(self) -> list[str]:
        """Registered primary names (aliases excluded), sorted."""
        return sorted(self._primary)

    def __contains__(self, name: object) -> bool:
        return str(name).lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def by_owner(self, owner: str) -> list[str]:
        """Primary names registered by one plugin."""
        return sorted(n for n in self._primary if self._owner[n.lower()] == owner)


RegisterCallback = Callable[..., None]

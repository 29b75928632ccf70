"""Entry point of the ``undial`` plugin: registers UNDIAL (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register UNDIAL."""
    from unlearn_undial.method import UNDIAL

    register(UNDIAL.name, UNDIAL, aliases=UNDIAL.aliases)

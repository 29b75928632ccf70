"""Entry point of the ``rmu`` plugin: registers RMU (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register RMU."""
    from unlearn_rmu.method import RMU

    register(RMU.name, RMU, aliases=RMU.aliases)

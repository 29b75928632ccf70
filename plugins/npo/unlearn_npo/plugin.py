"""Entry point of the ``npo`` plugin: registers NPO and SimNPO (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register NPO and SimNPO."""
    from unlearn_npo.methods import NPO, SimNPO

    for method in (NPO, SimNPO):
        register(method.name, method, aliases=method.aliases)

"""Entry point of the ``dpo`` plugin: registers DPO and IdkNLL (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register DPO and IdkNLL."""
    from unlearn_dpo.methods import DPO, IdkNLL

    for method in (DPO, IdkNLL):
        register(method.name, method, aliases=method.aliases)

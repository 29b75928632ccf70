"""Entry point of the ``pdu`` plugin: registers PDU (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register PDU."""
    from unlearn_pdu.method import PDU

    register(PDU.name, PDU, aliases=PDU.aliases)

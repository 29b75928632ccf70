"""Entry point of the ``tokenweighted`` plugin: registers WGA, SatImp and CEU (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register WGA, SatImp and CEU."""
    from unlearn_tokenweighted.methods import CEU, WGA, SatImp

    for method in (WGA, SatImp, CEU):
        register(method.name, method, aliases=method.aliases)

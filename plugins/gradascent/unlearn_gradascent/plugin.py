"""Entry point of the ``gradascent`` plugin: registers GradAscent and GradDiff (torch is imported lazily)."""

from __future__ import annotations

from typing import Any

from unlearn_core import hookimpl


@hookimpl
def register_methods(register: Any) -> None:
    """Register GradAscent (alias GA) and GradDiff."""
    from unlearn_gradascent.methods import GradAscent, GradDiff

    for method in (GradAscent, GradDiff):
        register(method.name, method, aliases=method.aliases)

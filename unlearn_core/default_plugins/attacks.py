"""Built-in attacks, registered through the same hook a third-party attack plugin uses."""

from __future__ import annotations

from typing import Any

from unlearn_core.attacks.quantize import Quantize
from unlearn_core.attacks.relearn import Relearn
from unlearn_core.hookspecs import hookimpl


@hookimpl
def register_attacks(register: Any) -> None:
    """Register ``relearn`` and ``quantize``."""
    for attack in (Relearn, Quantize):
        register(attack.name, attack, aliases=attack.aliases)

"""Parse trailing KEY=VALUE overrides (values in YAML syntax, as OmegaConf reads them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from unlearn_core.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Override:
    """One ``key=value`` from the command line; ``value`` is already parsed (int, float, bool, list, None, str)."""

    key: str
    value: Any
    text: str


def parse_overrides(items: Sequence[str]) -> list[Override]:
    """Parse ``KEY=VALUE`` strings; a malformed one is a ConfigError naming it."""
    parsed: list[Override] = []
    if not items:
        return parsed
    from omegaconf import OmegaConf  # its YAML reading costs start-up; a command without overrides never needs it

    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().lstrip("+")
        if not sep or not _KEY.match(key):
            raise ConfigError(f"bad override '{item}': expected KEY=VALUE, e.g. trainer.args.learning_rate=1e-5")
        try:
            value = OmegaConf.to_container(OmegaConf.from_dotlist([f"v={raw}"]))["v"]  # type: ignore[index]
        except Exception as exc:
            raise ConfigError(f"bad value in override '{item}': {str(exc).splitlines()[0]}") from None
        parsed.append(Override(key, value, item))
    return parsed

"""Check override keys and values against the configuration they change; errors name the key and the choices."""

from __future__ import annotations

from typing import Any

from unlearn_core.errors import ConfigError
from unlearn_core.suggest import did_you_mean


def lookup(cfg: dict[str, Any], key: str) -> tuple[bool, Any]:
    """``(found, value)`` for a dotted key in nested dicts."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def assign(cfg: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key, creating intermediate dicts."""
    parts = key.split(".")
    node = cfg
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def unknown_key_message(cfg: dict[str, Any], key: str) -> str:
    """One line naming the unknown key, a close match and the valid keys at that level."""
    parts = key.split(".")
    node: Any = cfg
    prefix: list[str] = []
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
            prefix.append(part)
            continue
        if not isinstance(node, dict):
            return f"unknown override key '{key}': '{'.'.join(prefix)}' is a value, not a section"
        where = ".".join(prefix)
        full = [f"{where}.{c}" if where else c for c in sorted(node)]
        wanted = f"{where}.{part}" if where else part
        return f"unknown override key '{key}'{did_you_mean(wanted, full)}; valid keys here: {', '.join(full)}"
    return f"unknown override key '{key}'"


def coerce(key: str, default: Any, value: Any) -> Any:
    """Return ``value`` converted to the type of ``default``, or raise a ConfigError naming the key."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"'{key}' must be true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"'{key}' must be an integer, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"'{key}' must be a number, got {value!r}")
    if isinstance(default, str):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"'{key}' must be a string, got {value!r}")
    if isinstance(default, list):
        if isinstance(value, list):
            return value
        raise ConfigError(f"'{key}' must be a list like [a,b], got {value!r}")
    if isinstance(default, dict):
        if isinstance(value, dict):
            return value
        raise ConfigError(f"'{key}' is a section; set one of its keys, e.g. {key}.{next(iter(default), 'name')}=...")
    return value


def check_choice(key: str, value: Any, choices: tuple[Any, ...]) -> None:
    """Raise a ConfigError when ``value`` is not one of ``choices``."""
    if value is None or value in choices:
        return
    names = [str(c) for c in choices]
    raise ConfigError(
        f"invalid value {value!r} for '{key}'{did_you_mean(str(value), names)}; valid choices: {', '.join(names)}"
    )

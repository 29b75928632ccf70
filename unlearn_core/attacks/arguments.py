"""Attack arguments: ``attack.<key>=VALUE`` on ``unlearn attack``, and the ``attacks=[...]`` setting of ``unlearn run``.

Both are checked against the attack's declared ``defaults`` and ``choices`` before any model loads; an unknown attack,
key or value is a ``ConfigError`` (exit code 2) naming it and the valid choices.
"""

from __future__ import annotations

from typing import Any

from unlearn_core.attacks.contract import Attack
from unlearn_core.config.overrides import parse_overrides
from unlearn_core.config.validate import check_choice, coerce
from unlearn_core.errors import ConfigError
from unlearn_core.suggest import did_you_mean

PREFIX = "attack."


def attack_arguments(attack_cls: type[Attack], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked against ``attack_cls.defaults`` (known keys, typed like the default) and ``choices``."""
    args = dict(attack_cls.defaults)
    for key, value in given.items():
        if key not in attack_cls.defaults:
            valid = ", ".join(f"{PREFIX}{k}" for k in attack_cls.defaults) or "none"
            raise ConfigError(
                f"unknown argument '{PREFIX}{key}' of attack {attack_cls.name}"
                f"{did_you_mean(key, attack_cls.defaults)}; valid: {valid}"
            )
        args[key] = coerce(f"{PREFIX}{key}", attack_cls.defaults[key], value)
    for key, choices in attack_cls.choices.items():
        check_choice(f"{PREFIX}{key}", args.get(key), choices)
    return args


def parse_attack_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``attack.<key>=VALUE`` strings as ``{key: value}`` (YAML values); any other key is an error."""
    parsed: dict[str, Any] = {}
    for override in parse_overrides(list(items)):
        if not override.key.startswith(PREFIX) or override.key.count(".") != 1:
            raise ConfigError(f"bad argument '{override.text}': an attack takes attack.KEY=VALUE, e.g. attack.bits=8")
        parsed[override.key.removeprefix(PREFIX)] = override.value
    return parsed


def build_attack(attacks: Any, name: str, given: dict[str, Any], cfg: dict[str, Any]) -> Attack:
    """The attack ``name`` of registry ``attacks`` with arguments ``given``, checked against the run's ``cfg``."""
    attack_cls = attacks.get(name)
    attack = attack_cls(**attack_arguments(attack_cls, given))
    attack.check(cfg)
    return attack


def attack_entries(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """The ``attacks=`` setting as ``(name, arguments)`` pairs: each item a name (``relearn``) or a one-key mapping
    of a name to its arguments (``{quantize: {bits: 8}}``)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    entries: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            entries.append((item, {}))
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())) or {}, dict):
            name, args = next(iter(item.items()))
            entries.append((str(name), dict(args or {})))
        else:
            raise ConfigError(
                f"bad item {item!r} in 'attacks': give an attack name or {{name: {{key: value}}}}, "
                "e.g. attacks=[relearn,{quantize: {bits: 8}}]"
            )
    return entries


def resolve_attacks(value: Any, attacks: Any, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``attacks=`` setting of ``cfg`` checked and written out in full: ``[{name, args}]`` with every argument;
    two items with the same label (name and variant) are refused."""
    resolved: list[dict[str, Any]] = []
    labels: list[str] = []
    for name, given in attack_entries(value):
        attack = build_attack(attacks, name, given, cfg)
        if attack.label() in labels:
            raise ConfigError(f"'attacks' names {attack.label()} twice")
        labels.append(attack.label())
        resolved.append({"name": attack.name, "args": attack.args})
    return resolved

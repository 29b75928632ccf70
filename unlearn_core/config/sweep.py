"""Sweeps (``--multirun``): comma-separated values in KEY=VALUE overrides expand into one run per combination.

Hydra's convention: ``key=a,b,c`` is three values. A YAML list ``key=[a,b]`` or mapping ``key={a: 1, b: 2}`` is one
value, and so is anything in quotes (``key='a,b'``, typed ``"key='a,b'"`` in a shell) or a comma escaped with a
backslash (``key=a\\,b``). Combinations are the Cartesian product of the swept values in the order the overrides are
given, the last override varying fastest.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from unlearn_core.errors import ConfigError

NOT_SWEPT = ("task_name", "paths.output_dir")
"""Keys that name the sweep's directory (each run goes to ``<directory>/<n>``), so they take one value."""
_OPEN = {"[": "]", "{": "}", "(": ")"}


@dataclass(frozen=True)
class Combination:
    """One run of a sweep: every override with one value, and the swept ``(key, value)`` pairs."""

    index: int
    overrides: tuple[str, ...]
    swept: tuple[tuple[str, str], ...]

    @property
    def label(self) -> str:
        """``learning_rate=1e-05 beta=0.1``: the swept values, each under the last part of its key."""
        return " ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in self.swept) or "(no swept key)"


def split_values(item: str) -> list[str]:
    """The values of one ``KEY=VALUE`` override: its value split at commas outside brackets, braces and quotes.

    An escaped comma (``\\,``) stays in its value as a plain comma.
    """
    key, sep, raw = item.partition("=")
    if not sep:
        return [raw]
    parts: list[str] = []
    current: list[str] = []
    closing: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(raw):
        char = raw[i]
        if quote is not None:
            quote = None if char == quote else quote
        elif char == "\\" and raw[i + 1 : i + 2] == ",":
            char, i = ",", i + 1
        elif char in "'\"":
            quote = char
        elif char in _OPEN:
            closing.append(_OPEN[char])
        elif closing and char == closing[-1]:
            closing.pop()
        elif char == "," and not closing:
            parts.append("".join(current))
            current, i = [], i + 1
            continue
        current.append(char)
        i += 1
    if quote is not None or closing:
        raise ConfigError(f"bad override '{item}': unbalanced {quote or closing[-1]!r} in its value")
    parts.append("".join(current))
    if len(parts) > 1 and any(not p.strip() for p in parts):
        raise ConfigError(f"bad sweep override '{item}': an empty value between commas")
    return parts


def expand_sweep(overrides: Sequence[str]) -> list[Combination]:
    """Every combination of the swept values (one combination when nothing is swept)."""
    keys: list[str] = []
    choices: list[list[str]] = []
    swept_keys: set[str] = set()
    for item in overrides:
        head, sep, _ = item.partition("=")
        key = head.strip().lstrip("+")
        if key in swept_keys or (key in keys and len(split_values(item)) > 1):
            raise ConfigError(f"'{key}' is given more than once in a sweep; give its values once: {key}=a,b")
        values = split_values(item) if sep else [item]
        if len(values) > 1:
            if key in NOT_SWEPT:
                raise ConfigError(
                    f"'{key}' names the sweep's directory and takes one value (each run goes to <directory>/<n>)"
                )
            swept_keys.add(key)
        keys.append(key)
        choices.append([f"{head}={value}" for value in values] if sep else values)
    combinations = []
    for index, picked in enumerate(itertools.product(*choices)):
        swept = tuple((key, item.partition("=")[2]) for key, item in zip(keys, picked) if key in swept_keys)
        combinations.append(Combination(index, tuple(picked), swept))
    return combinations

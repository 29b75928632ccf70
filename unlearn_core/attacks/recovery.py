"""How much of what unlearning removed an attack brings back.

For a forget metric ``m`` (one of the benchmark's ``recovery_columns``: by default its summary keys starting with
``forget_``; they must grow with what the model knows of the forget set) with values ``m_target`` before unlearning,
``m_unlearned`` after it and ``m_attacked`` after the attack, the recovery is

    (m_attacked - m_unlearned) / (m_target - m_unlearned)

0 when the attack changed nothing, 1 when it brought the metric back to the target model's value (above 1: past it,
below 0: further from it). It is undefined (None) without a target value, or when unlearning did not move the metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FORGET_PREFIX = "forget_"
UNMOVED = 1e-12
"""A smaller change from the target to the unlearned model is no change: the recovery is undefined."""


def forget_columns(columns: Sequence[str]) -> list[str]:
    """The summary keys that measure what the model still knows of the forget set."""
    return [c for c in columns if c.startswith(FORGET_PREFIX)]


def recovery(target: Any, unlearned: Any, attacked: Any) -> float | None:
    """``(attacked - unlearned) / (target - unlearned)``, or None when a value is missing or unlearning did not
    move the metric."""
    values = (target, unlearned, attacked)
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values):
        return None
    moved = float(target) - float(unlearned)
    if abs(moved) < UNMOVED:
        return None
    return (float(attacked) - float(unlearned)) / moved


def recovery_columns(benchmark: Any) -> list[str]:
    """The keys ``benchmark`` reports recoveries for: its ``recovery_columns``, or its ``forget_`` table columns."""
    declared = getattr(benchmark, "recovery_columns", None)
    return list(declared) if declared is not None else forget_columns(benchmark.table_columns)


def recovery_row(
    keys: Sequence[str], target: dict[str, Any] | None, unlearned: dict[str, Any], attacked: dict[str, Any]
) -> dict[str, float | None]:
    """The recovery of each of ``keys``."""
    target = target or {}
    return {c: recovery(target.get(c), unlearned.get(c), attacked.get(c)) for c in keys}

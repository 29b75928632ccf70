"""Small helpers every built-in metric shares: finite floats, means over samples, per-answer lists."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def clean(value: Any) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


def row_mean(value: Any) -> float | None:
    """A sample's value: itself, or the mean of the finite values of its list (one per answer of a list field)."""
    if not isinstance(value, list):
        return value
    finite = [v for v in value if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def mean(values: list[Any]) -> float | None:
    """Mean over samples of the finite sample values (a list value counts as its own mean)."""
    finite = [v for v in (row_mean(v) for v in values) if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def rows(stored: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-sample records of a stored entry, in index order."""
    return list(stored["value_by_index"].values())

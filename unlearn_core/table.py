"""Plain-text tables for the terminal: the final summary of a run and the plugin list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits (scientific below 1e-3), None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3e}"
        return f"{value:.4g}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    cells = [[str(h) for h in headers]] + [[format_value(v) if i else str(v) for i, v in enumerate(r)] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    numeric = [i > 0 and all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def summary_table(
    rows: dict[str, dict[str, Any]],
    columns: Sequence[str],
    labels: dict[str, str] | None = None,
    recovery: dict[str, dict[str, Any]] | None = None,
) -> str:
    """One row per model (target, retain, unlearned, attacked models) and one column per headline metric (``labels``
    name them); then, for each attacked row of ``recovery``, the recovery of its forget metrics (a row ``recovery``
    when there is one attacked row, ``recovery: <row>`` for several)."""
    recovery = recovery or {}
    extra = {("recovery" if len(recovery) == 1 else f"recovery: {name}"): values for name, values in recovery.items()}
    rows = {**rows, **extra}
    headers = [(labels or {}).get(c, c) for c in columns]
    return render_table(
        ["model", *headers], [[name, *(values.get(c) for c in columns)] for name, values in rows.items()]
    )

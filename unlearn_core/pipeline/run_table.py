"""``summary_table.json``: the table a command printed (one row per model, its columns and their labels).

The target and retain rows of an unlearning run come from cached or reference evaluations that live outside the run
directory; keeping the printed table with the run lets ``unlearn compare`` and sweeps show them without those files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.training.diskio import write_json

TABLE_FILE = "summary_table.json"
REFERENCE_ROWS = ("target", "retain")
"""Rows that describe the models a run is compared with, not the run's own result."""


@dataclass
class RunTable:
    """Summary rows by model name, the headline columns, and how the table labels a column."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    recovery: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Rows of attacked models: the recovery of each forget metric (see ``attacks.recovery``)."""

    @property
    def own_rows(self) -> dict[str, dict[str, Any]]:
        """The run's own results (``unlearned``, ``evaluated``, or one row per experiment step)."""
        return {name: values for name, values in self.rows.items() if name not in REFERENCE_ROWS}

    def as_dict(self) -> dict[str, Any]:
        """What ``summary_table.json`` holds (``recovery`` only when attacks ran)."""
        table = {"rows": self.rows, "columns": self.columns, "labels": self.labels}
        return {**table, "recovery": self.recovery} if self.recovery else table


def write_run_table(output_dir: Path, table: RunTable) -> Path:
    """Write the table atomically into ``output_dir``."""
    path = output_dir / TABLE_FILE
    write_json(path, table.as_dict())
    return path


def read_run_table(run_dir: Path) -> RunTable | None:
    """The table a finished run wrote, or None (an older run, or one that did not finish)."""
    try:
        data = json.loads((run_dir / TABLE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), dict):
        return None
    rows = {str(k): v for k, v in data["rows"].items() if isinstance(v, dict)}
    recovery = data.get("recovery") if isinstance(data.get("recovery"), dict) else {}
    return RunTable(rows, list(data.get("columns") or []), dict(data.get("labels") or {}), recovery)

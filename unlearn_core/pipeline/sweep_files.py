"""The record of a sweep: ``sweep.json`` (for programs and ``unlearn compare``) and ``sweep.md`` (for people).

Both list every run with its swept settings, its status and its summary row(s), plus the target and retain rows the
runs are compared with. Process 0 rewrites them atomically whenever a run starts or ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.config import ExperimentConfig
from unlearn_core.config.sweep import Combination
from unlearn_core.pipeline.outputs import is_main_process
from unlearn_core.pipeline.run_table import REFERENCE_ROWS, RunTable
from unlearn_core.table import format_value
from unlearn_core.training.diskio import write_json, write_text

SWEEP_FILE = "sweep.json"
SWEEP_MARKDOWN = "sweep.md"


@dataclass
class SweepRun:
    """One combination of a sweep, its resolved configuration and how it went."""

    combination: Combination
    cfg: ExperimentConfig
    status: str = "pending"
    """``pending``, ``running``, ``finished``, ``failed`` or ``interrupted``."""
    table: RunTable | None = None
    error: str | None = None

    @property
    def index(self) -> int:
        """Its number, also the name of its directory."""
        return self.combination.index

    @property
    def directory(self) -> Path:
        """Where the run writes everything."""
        return self.cfg.output_dir

    def as_dict(self) -> dict[str, Any]:
        """Its entry in ``sweep.json``."""
        return {
            "index": self.index,
            "directory": self.directory.name,
            "settings": dict(self.combination.swept),
            "overrides": list(self.combination.overrides),
            "status": self.status,
            "summary": self.table.own_rows if self.table else {},
            "error": self.error,
        }


@dataclass
class Sweep:
    """A planned sweep: its directory and its runs in order."""

    mode: str
    benchmark: str
    method: str | None
    overrides: list[str]
    directory: Path
    runs: list[SweepRun] = field(default_factory=list)
    command: str = ""
    """The command line that started the sweep."""

    @property
    def swept_keys(self) -> list[str]:
        """The keys that take several values, in the order they were given."""
        return [key for key, _ in self.runs[0].combination.swept] if self.runs else []

    def reference_table(self) -> RunTable:
        """Target and retain rows, columns and labels from the first finished run that has them."""
        for run in self.runs:
            if run.table is not None and run.table.columns:
                rows = {k: v for k, v in run.table.rows.items() if k in REFERENCE_ROWS and v}
                return RunTable(rows, run.table.columns, run.table.labels)
        return RunTable()

    def as_dict(self) -> dict[str, Any]:
        """What ``sweep.json`` holds."""
        reference = self.reference_table()
        return {
            "mode": self.mode,
            "benchmark": self.benchmark,
            "method": self.method,
            "command": self.command,
            "directory": str(self.directory),
            "swept": {
                key: list(dict.fromkeys(r.combination.swept[i][1] for r in self.runs))
                for i, key in enumerate(self.swept_keys)
            },
            "overrides": self.overrides,
            "columns": reference.columns,
            "labels": reference.labels,
            "reference": reference.rows,
            "runs": [run.as_dict() for run in self.runs],
        }


def sweep_rows(sweep: Sweep) -> tuple[list[str], list[list[Any]]]:
    """The sweep's table: a row per reference model and per run (per step for multi-step runs)."""
    reference = sweep.reference_table()
    keys = sweep.swept_keys
    headers = [
        "run",
        "status",
        *(k.rsplit(".", 1)[-1] for k in keys),
        *(reference.labels.get(c, c) for c in reference.columns),
    ]
    rows: list[list[Any]] = []
    for name, values in reference.rows.items():
        rows.append([name, "", *([""] * len(keys)), *(values.get(c) for c in reference.columns)])
    for run in sweep.runs:
        settings = [value for _, value in run.combination.swept]
        own = run.table.own_rows if run.table else {"": {}}
        for step, values in own.items():
            label = str(run.index) if len(own) == 1 else f"{run.index}/{step}"
            rows.append([label, run.status, *settings, *(values.get(c) for c in reference.columns)])
    return headers, rows


def render_markdown(sweep: Sweep) -> str:
    """``sweep.md``: the command, a count by status, and the table."""
    headers, rows = sweep_rows(sweep)
    counts: dict[str, int] = {}
    for run in sweep.runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    lines = [
        f"# Sweep {sweep.directory.name}",
        "",
        f"`{sweep.command}`",
        "",
        f"{len(sweep.runs)} runs: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + ".",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" if i < 2 + len(sweep.swept_keys) else "---:" for i in range(len(headers))) + "|",
    ]
    lines += ["| " + " | ".join(format_value(v) if v != "" else "" for v in row) + " |" for row in rows]
    failed = [run for run in sweep.runs if run.error]
    lines += ["", *(f"- run {run.index}: {run.error}" for run in failed)] if failed else []
    return "\n".join(lines) + "\n"


def save_sweep(sweep: Sweep) -> None:
    """Rewrite ``sweep.json`` and ``sweep.md`` (process 0 only)."""
    if not is_main_process():
        return
    write_json(sweep.directory / SWEEP_FILE, sweep.as_dict())
    write_text(sweep.directory / SWEEP_MARKDOWN, render_markdown(sweep))


def read_sweep_record(directory: Path) -> dict[str, Any] | None:
    """The ``sweep.json`` of ``directory`` as written, or None when there is none."""
    try:
        data = json.loads((directory / SWEEP_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("runs"), list) else None

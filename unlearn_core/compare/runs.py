"""What ``unlearn compare`` reads: runs and sweeps, their summary rows, swept settings and evaluation curves.

A run's own rows and its target/retain rows come from ``summary_table.json`` (written at the end of every run); an
older run without it falls back to its ``<BENCH>_SUMMARY.json``. A sweep contributes its finished runs, in order.
Comparability is judged as ``unlearn diff`` judges it, each run against the first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.errors import UnlearnError
from unlearn_core.pipeline.diff import diff_runs
from unlearn_core.pipeline.run_table import RunTable, read_run_table
from unlearn_core.pipeline.sweep_files import read_sweep_record
from unlearn_core.training.runlog import read_jsonl

OWN_ROW_NAMES = ("unlearned", "evaluated", "finetuned")
"""Row names that stand for the run itself (other own rows are the steps of a multi-step experiment)."""


class NothingToCompare(UnlearnError):
    """A path that holds neither a run nor a sweep, or a run with no results (exit code 2)."""

    exit_code = 2


@dataclass
class ComparedRun:
    """One point of the comparison: a run (or one step of a multi-step run) and its summary row."""

    name: str
    path: Path
    values: dict[str, Any]
    settings: dict[str, str] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    """Summaries of the evaluations during training (``eval_log.jsonl``), in step order."""

    @property
    def label(self) -> str:
        """``name: key=value ...`` (the swept settings), or the name alone."""
        shown = " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in self.settings.items())
        return f"{self.name}: {shown}" if shown else self.name


@dataclass
class Comparison:
    """The runs in order, the target/retain rows, the columns to show and how to label them."""

    runs: list[ComparedRun]
    reference: dict[str, dict[str, Any]]
    columns: list[str]
    labels: dict[str, str]
    benchmark: str | None
    sources: list[Path]
    """The run directories, in order (each read once, for comparability)."""
    skipped: list[str] = field(default_factory=list)
    """Runs of a sweep left out because they did not finish."""

    @property
    def setting_keys(self) -> list[str]:
        """Every swept key, in order of first appearance."""
        return list(dict.fromkeys(k for run in self.runs for k in run.settings))

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows: target/retain first, then one row per run."""
        keys = self.setting_keys
        headers = ["run", *(k.rsplit(".", 1)[-1] for k in keys), *(self.labels.get(c, c) for c in self.columns)]
        rows = [[name, *([""] * len(keys)), *(v.get(c) for c in self.columns)] for name, v in self.reference.items()]
        for run in self.runs:
            settings = [run.settings.get(k, "") for k in keys]
            rows.append([run.name, *settings, *(run.values.get(c) for c in self.columns)])
        return headers, rows

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``unlearn compare --json``)."""
        return {
            "benchmark": self.benchmark,
            "columns": self.columns,
            "labels": self.labels,
            "reference": self.reference,
            "runs": [
                {"name": r.name, "path": str(r.path), "settings": r.settings, "summary": r.values, "curve": r.curve}
                for r in self.runs
            ],
            "skipped": self.skipped,
        }


def _fallback_table(run_dir: Path, mode: str | None) -> RunTable | None:
    """The summary of a run that wrote no ``summary_table.json`` (its own row only)."""
    found = sorted((run_dir / "evals").glob("*_SUMMARY.json")) + sorted(run_dir.glob("*_SUMMARY.json"))
    if not found:
        return None
    try:
        summary = json.loads(found[0].read_text())
    except (OSError, ValueError):
        return None
    name = "evaluated" if mode == "eval" else "unlearned"
    return RunTable({name: summary}, list(summary), {}) if isinstance(summary, dict) else None


def _read_config(run_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        raise NothingToCompare(f"{run_dir} holds no run or sweep (no readable config.json or sweep.json)") from None
    return config if isinstance(config, dict) else {}


def read_run(run_dir: Path, name: str, settings: dict[str, str]) -> tuple[list[ComparedRun], RunTable, Any]:
    """The points of one run directory, its table and its benchmark."""
    config = _read_config(run_dir)
    table = read_run_table(run_dir) or _fallback_table(run_dir, config.get("mode"))
    if table is None or not table.own_rows:
        raise NothingToCompare(f"{run_dir} has no results yet (no summary_table.json or <BENCH>_SUMMARY.json)")
    own = table.own_rows
    curve = sorted(read_jsonl(run_dir / "eval_log.jsonl"), key=lambda r: r.get("step", 0))
    points = []
    for row, values in own.items():
        if len(own) == 1 or row in OWN_ROW_NAMES:
            points.append(ComparedRun(name, run_dir, values, settings, curve))
        else:  # a step of a multi-step experiment
            points.append(ComparedRun(f"{name}/{row}", run_dir, values, settings))
    return points, table, config.get("benchmark")


def _members(path: Path, several: bool) -> tuple[list[tuple[Path, str, dict[str, str]]], list[str]]:
    """(run directory, name, settings) of each finished run ``path`` stands for, and the sweep runs left out."""
    record = read_sweep_record(path)
    if record is None:
        return [(path, path.name or str(path), {})], []
    members, skipped = [], []
    for run in record["runs"]:
        name = f"{path.name}/{run['index']}" if several else str(run["index"])
        if run.get("status") == "finished":
            members.append((path / str(run.get("directory", run["index"])), name, dict(run.get("settings") or {})))
        else:
            skipped.append(f"{name} ({run.get('status')})")
    return members, skipped


def collect(paths: list[Path]) -> Comparison:
    """Read every run of ``paths`` (run directories or sweeps) into one comparison."""
    if not paths:
        raise NothingToCompare("give at least one run directory or sweep")
    members: list[tuple[Path, str, dict[str, str]]] = []
    skipped: list[str] = []
    for path in paths:
        if not path.is_dir():
            raise NothingToCompare(f"run or sweep directory not found: {path}")
        found, left = _members(path, several=len(paths) > 1)
        members += found
        skipped += left
    names = [name for _, name, _ in members]
    runs: list[ComparedRun] = []
    tables: list[tuple[str, RunTable]] = []
    benchmark = None
    for run_dir, name, settings in members:
        unique = name if names.count(name) == 1 else str(run_dir)
        points, table, bench = read_run(run_dir, unique, settings)
        runs += points
        tables.append((unique, table))
        benchmark = benchmark or bench
    if not runs:
        raise NothingToCompare(f"no finished run to compare in {', '.join(map(str, paths))}")
    columns, labels = _columns(tables)
    return Comparison(runs, _reference_rows(tables), columns, labels, benchmark, [m[0] for m in members], skipped)


def _columns(tables: list[tuple[str, RunTable]]) -> tuple[list[str], dict[str, str]]:
    columns: list[str] = []
    labels: dict[str, str] = {}
    for _, table in tables:
        columns += [c for c in table.columns if c not in columns]
        labels.update({k: v for k, v in table.labels.items() if k not in labels})
    return columns, labels


def _reference_rows(tables: list[tuple[str, RunTable]]) -> dict[str, dict[str, Any]]:
    """``target`` and ``retain`` once; a run compared with other models adds ``target (run)`` rows."""
    rows: dict[str, dict[str, Any]] = {}
    for run_name, table in tables:
        for name in ("target", "retain"):
            values = table.rows.get(name)
            if not values or values in rows.values():
                continue
            rows[name if name not in rows else f"{name} ({run_name})"] = values
    return rows


def incomparable(comparison: Comparison) -> list[str]:
    """One line per run directory whose numbers ``unlearn diff`` would not compare with the first one's."""
    first, lines = comparison.sources[0], []
    for other in dict.fromkeys(comparison.sources[1:]):
        if other == first:
            continue
        diff = diff_runs(first, other)
        if not diff.comparable:
            reasons = "; ".join(f"{key} {_short(a)} vs {_short(b)}" for key, a, b in diff.incomparable)
            lines.append(f"{other} vs {first}: {reasons}")
    return lines


def _short(value: Any, width: int = 24) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."

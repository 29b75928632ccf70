"""Compare two run directories: configuration, provenance and summary numbers, and whether they are comparable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.errors import UnlearnError
from unlearn_core.table import render_table

ABSENT = "(absent)"

INCOMPARABLE_CONFIG = (
    "benchmark",
    "eval.benchmark",
    "forget_split",
    "retain_split",
    "holdout_split",
    "data_split",
    "data.source",
    "data.forget",
    "data.retain",
    "data.embedded",
    "seed",
    "trainer.args.seed",
)
"""Configuration keys (and sections) whose difference makes two runs' numbers incomparable."""
INCOMPARABLE_PROVENANCE = ("loss_normalization", "world_size", "effective_batch_size", "metric_definition_version")
TRAINING_ONLY = ("loss_normalization", "world_size", "effective_batch_size")
SPLIT_INVARIANT = "effective"
"""The ``loss_normalization`` of runs whose numbers do not depend on how the effective batch is split (so on the
number of processes either); runs from before it was recorded normalised by micro-batch."""
NOT_SHOWN = ("started", "finished", "timings")
"""Provenance entries that always differ between two runs."""


class RunDirReadError(UnlearnError):
    """A directory given to ``unlearn diff`` that holds no readable run (exit code 2)."""

    exit_code = 2


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": value}`` (lists stay values)."""
    if not isinstance(data, dict) or (prefix and not data):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def changed_keys(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (value in a, value in b)}`` for every key whose values differ (``ABSENT`` when missing)."""
    fa, fb = flatten(a), flatten(b)
    keys = sorted(set(fa) | set(fb))
    return {k: (fa.get(k, ABSENT), fb.get(k, ABSENT)) for k in keys if fa.get(k, ABSENT) != fb.get(k, ABSENT)}


def _read_json(path: Path, required: bool) -> Any:
    if not path.is_file():
        if required:
            raise RunDirReadError(f"{path.parent} is not a run directory: {path.name} is missing")
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunDirReadError(f"{path} cannot be read: {exc}") from None


@dataclass
class RunRecord:
    """What ``unlearn diff`` reads from one run directory."""

    path: Path
    config: dict[str, Any]
    provenance: dict[str, Any]
    summary: dict[str, Any]
    metric_version: Any


def read_run(path: Path) -> RunRecord:
    """Read ``config.json`` (required), ``provenance.json`` and the ``<BENCH>_SUMMARY.json``/``_EVAL.json`` files."""
    if not path.is_dir():
        raise RunDirReadError(f"run directory not found: {path}")
    config = _read_json(path / "config.json", required=True)
    provenance = _read_json(path / "provenance.json", required=False) or {}
    summaries = sorted((path / "evals").glob("*_SUMMARY.json")) + sorted(path.glob("*_SUMMARY.json"))
    summary = _read_json(summaries[0], required=False) if summaries else {}
    version = provenance.get("metric_definition_version")
    if version is None:
        evals = sorted((path / "evals").glob("*_EVAL.json")) + sorted(path.glob("*_EVAL.json"))
        manifest = (_read_json(evals[0], required=False) or {}).get("manifest", {}) if evals else {}
        version = manifest.get("metric_definition_version")
    return RunRecord(path, config, provenance, summary if isinstance(summary, dict) else {}, version)


def _training(run: RunRecord) -> bool:
    return run.config.get("mode") in ("train", "unlearn")


def _normalization(run: RunRecord) -> str:
    return str(run.provenance.get("loss_normalization") or "micro-batch")


def _effective_batch(run: RunRecord) -> Any:
    if "effective_batch_size" in run.provenance:
        return run.provenance["effective_batch_size"]
    args = run.config.get("trainer", {}).get("args", {})
    try:
        return (
            args["per_device_train_batch_size"]
            * args["gradient_accumulation_steps"]
            * run.provenance.get("world_size", 1)
        )
    except (KeyError, TypeError):
        return None


@dataclass
class RunDiff:
    """Differences between runs A and B, and those that make their numbers incomparable."""

    a: RunRecord
    b: RunRecord
    config: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    provenance: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    summary: list[tuple[str, Any, Any]] = field(default_factory=list)
    incomparable: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        """True when nothing that decides comparability differs."""
        return not self.incomparable

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``unlearn diff --json``)."""
        return {
            "a": str(self.a.path),
            "b": str(self.b.path),
            "comparable": self.comparable,
            "incomparable": {k: [a, b] for k, a, b in self.incomparable},
            "config": {k: list(v) for k, v in self.config.items()},
            "provenance": {k: list(v) for k, v in self.provenance.items()},
            "summary": {k: [a, b] for k, a, b in self.summary},
        }


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def diff_runs(path_a: Path, path_b: Path) -> RunDiff:
    """Compare two run directories."""
    a, b = read_run(path_a), read_run(path_b)
    diff = RunDiff(a, b, config=changed_keys(a.config, b.config))
    prov_a = {k: v for k, v in a.provenance.items() if k not in NOT_SHOWN}
    prov_b = {k: v for k, v in b.provenance.items() if k not in NOT_SHOWN}
    diff.provenance = changed_keys(prov_a, prov_b)
    for key, (va, vb) in diff.config.items():
        if _under(key, INCOMPARABLE_CONFIG):
            diff.incomparable.append((key, va, vb))
    both_train = _training(a) and _training(b)
    norms = (_normalization(a), _normalization(b))
    facts = {
        "loss_normalization": norms,
        "world_size": (a.provenance.get("world_size", 1), b.provenance.get("world_size", 1)),
        "effective_batch_size": (_effective_batch(a), _effective_batch(b)),
        "metric_definition_version": (a.metric_version, b.metric_version),
    }
    for key in INCOMPARABLE_PROVENANCE:
        va, vb = facts[key]
        if key in TRAINING_ONLY and not both_train:
            continue
        if key == "world_size" and norms == (SPLIT_INVARIANT, SPLIT_INVARIANT):
            continue  # the same effective batch gives the same numbers at any number of processes
        if va is not None and vb is not None and va != vb:
            diff.incomparable.append((key, va, vb))
    metrics = list(a.summary) + [k for k in b.summary if k not in a.summary]
    diff.summary = [(m, a.summary.get(m), b.summary.get(m)) for m in metrics]
    return diff


def _show(value: Any, width: int = 48) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def render_diff(diff: RunDiff) -> str:
    """The text ``unlearn diff`` prints: differing keys, summary numbers side by side, the verdict."""
    lines = [f"A: {diff.a.path}", f"B: {diff.b.path}", ""]
    for title, changes in (("configuration", diff.config), ("provenance", diff.provenance)):
        if changes:
            rows = [[k, _show(va), _show(vb)] for k, (va, vb) in changes.items()]
            lines += [f"{title}: {len(changes)} differ", render_table(["key", "A", "B"], rows), ""]
        else:
            lines += [f"{title}: identical", ""]
    if diff.summary:
        rows = []
        for metric, va, vb in diff.summary:
            delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
            rows.append([metric, va, vb, delta])
        lines += ["summary:", render_table(["metric", "A", "B", "B - A"], rows), ""]
    if diff.comparable:
        lines.append("comparable: same benchmark, data, splits, seed, effective batch size, world size, metric version")
    else:
        reasons = "; ".join(f"{k} {_show(va, 24)} vs {_show(vb, 24)}" for k, va, vb in diff.incomparable)
        lines.append(f"NOT comparable: {reasons}")
    return "\n".join(lines)

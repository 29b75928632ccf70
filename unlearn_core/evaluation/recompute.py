"""Recompute aggregates from the per-sample values of a saved ``<BENCH>_EVAL.json`` (no model needed).

Each entry we write carries its ``definition`` (metric name and arguments) and enough per-sample values to derive
its aggregate; each metric's own ``recompute`` (``evaluation.metric``) derives it again, checking the per-sample
values that can themselves be derived (a truth ratio from its losses, a ROUGE score from its generation). Entries
of other tools have no definition: ``unlearn report`` gives them the benchmark's own definition by key first.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

REL_TOL = 1e-6
"""Per-sample values are stored as float32 by some tools (the reference writes ``exp`` of a float32 loss)."""


@dataclass
class Check:
    """One entry: its stored and recomputed aggregate, and whether they (and its per-sample values) agree."""

    key: str
    stored: float | None
    recomputed: float | None = None
    status: str = "ok"
    note: str = ""
    per_sample_differences: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)


def close(a: Any, b: Any) -> bool:
    """Equal up to float rounding (both None counts as equal)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + 1e-12


class _EntryContext:
    """The ``RecomputeContext`` of one entry (see ``evaluation.metric``)."""

    def __init__(self, recomputer: Recomputer, check: Check, args: Any) -> None:
        self._r = recomputer
        self._check = check
        self.args = args
        self.retain_logs = recomputer.retain_logs

    def value(self, key: str) -> float | None:
        return self._r.value(key)

    def samples(self, key: str) -> list[Any]:
        self._r.value(key)
        if key in self._r.samples:
            return self._r.samples[key]
        return [row["score"] for row in self._r.results[key]["value_by_index"].values()]

    def keep_samples(self, values: list[Any]) -> None:
        self._r.samples[self._check.key] = values

    def compare(self, stored: Any, derived: Any) -> Any:
        if not close(stored, derived):
            self._check.per_sample_differences += 1
        return derived

    def note(self, text: str) -> None:
        self._check.note = text


class Recomputer:
    """Recomputes the entries of one result file, caching what later entries build on."""

    def __init__(self, results: dict[str, Any], retain_logs: dict[str, Any] | None, metrics: Any) -> None:
        self.results = results
        self.retain_logs = retain_logs
        self.metrics = metrics
        self.values: dict[str, float | None] = {}
        self.samples: dict[str, list[Any]] = {}
        self.checks: dict[str, Check] = {}

    def run(self) -> list[Check]:
        """Check every entry of the file (the manifest is not an entry)."""
        for key in self.results:
            if key != "manifest" and isinstance(self.results[key], dict):
                self.check(key)
        return list(self.checks.values())

    def check(self, key: str) -> Check:
        """Recompute entry ``key`` (once)."""
        if key in self.checks:
            return self.checks[key]
        stored = self.results[key]
        check = Check(key, stored.get("agg_value"))
        self.checks[key] = check
        definition = stored.get("definition") or {}
        name = definition.get("metric")
        metric = self.metrics.get(name) if name and name in self.metrics else None
        if metric is None or metric.recompute is None:
            check.status, check.note = "skipped", f"cannot recompute metric {name or '(unknown)'}"
            return check
        context = _EntryContext(self, check, metric.arguments(definition.get("args")))
        try:
            value = metric.recompute(context, stored)
        except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError) as exc:
            check.status, check.note = "skipped", f"not enough per-sample data ({type(exc).__name__}: {exc})"
            return check
        self.values[key] = check.recomputed = value
        if not close(check.stored, value) or check.per_sample_differences:
            check.status = "differs"
        return check

    def value(self, key: str) -> float | None:
        """The recomputed aggregate of another entry (its stored one when it cannot be recomputed)."""
        if key not in self.results:
            raise KeyError(f"entry '{key}' is not in the file")
        check = self.check(key)
        return self.values[key] if key in self.values else check.stored


def recompute_file(results: dict[str, Any], retain_logs: dict[str, Any] | None, metrics: Any) -> list[Check]:
    """Check every entry of a loaded ``<BENCH>_EVAL.json`` with the registered ``metrics``' recompute rules."""
    return Recomputer(results, retain_logs, metrics).run()

"""The plan of an evaluation: every (data set, answer field) the selected entries score, every prompt set they
generate from, and the order of the entries, read from the metrics' own declarations (``evaluation.metric``).

The engine plans before computing anything, so all answer fields of a data set are scored together in one fused
pass (one prompt prefill for all of them) and all prompt sets are decoded in one pooled generation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from unlearn_core.evaluation.metric import Generate, Score
from unlearn_core.evaluation.suite import EvalSuite


@dataclass
class Plan:
    """Fields to score per (data set, MIA reference model?), those needing Min-K%++ z, the generations, the order."""

    fields: dict[tuple[str, bool], list[str]] = field(default_factory=dict)
    z: set[tuple[str, str, bool]] = field(default_factory=set)
    order: list[str] = field(default_factory=list)
    generations: list[Generate] = field(default_factory=list)

    def add(self, score: Score) -> None:
        """Ask for ``score.field`` of ``score.dataset`` to be scored (by the MIA reference model when asked)."""
        fields = self.fields.setdefault((score.dataset, score.mia_reference), [])
        if score.field not in fields:
            fields.append(score.field)
        if score.z:
            self.z.add((score.dataset, score.field, score.mia_reference))

    def wants_z(self, dataset: str, answer_field: str, mia_reference: bool) -> bool:
        """Whether the pass over this field computes z-scores (always for a field scored without a plan)."""
        planned = answer_field in self.fields.get((dataset, mia_reference), [])
        return not planned or (dataset, answer_field, mia_reference) in self.z


def walk(
    suite: EvalSuite, metrics: Any, keys: list[str], visit: Callable[[str, Any, Any], None], done: set[str]
) -> None:
    """Call ``visit(key, entry, metric)`` for ``keys`` and everything they depend on, dependencies first, once each
    (keys in ``done`` and unknown keys are skipped)."""
    seen = set(done)

    def go(key: str) -> None:
        if key in seen or key not in suite.entries:
            return
        seen.add(key)
        entry = suite.entries[key]
        metric = metrics.get(entry.metric)
        for dep in metric.depends(entry):
            go(dep)
        visit(key, entry, metric)

    for key in keys:
        go(key)


def plan(suite: EvalSuite, metrics: Any, keys: list[str], done: set[str] | None = None) -> Plan:
    """What ``keys`` (and the entries they depend on, except those ``done``) will score and generate, in order."""
    result = Plan()

    def visit(key: str, entry: Any, metric: Any) -> None:
        for score in metric.scores(entry, suite):
            result.add(score)
        result.generations += list(metric.generates(entry, suite))
        result.order.append(key)

    walk(suite, metrics, keys, visit, set(done or ()))
    return result


def retain_logs_needs(suite: EvalSuite, metrics: Any, keys: list[str]) -> list[str]:
    """Entries of the retain model's logs that ``keys`` (and what they build on) read: truth ratios, MIA AUCs."""
    needed: list[str] = []

    def visit(key: str, entry: Any, metric: Any) -> None:
        needed.extend(k for k in metric.retain_logs(entry) if k not in needed)

    walk(suite, metrics, keys, visit, set())
    return needed

"""What each metric entry reads: the (data set, answer field) pairs it scores and the entries it builds on.

The engine plans with this before computing anything, so all answer fields of a data set are scored together in
one fused pass (one prompt prefill for all of them). A metric that does not declare its inputs still works: its
fields are then scored when first asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from unlearn_core.evaluation.suite import EvalSuite, MetricEntry


@dataclass(frozen=True)
class GenerationRequest:
    """Greedy generations an entry reads: data set, prompt field, settings, and the answer usable as a draft."""

    dataset: str
    question_field: str | None
    max_new_tokens: int | None
    stop: tuple[str, ...]
    draft_field: str | None


@dataclass
class Plan:
    """Fields to score per (data set, reference model?), those needing Min-K%++ z, and the entry order."""

    fields: dict[tuple[str, bool], list[str]] = field(default_factory=dict)
    z: set[tuple[str, str, bool]] = field(default_factory=set)
    order: list[str] = field(default_factory=list)
    generations: list[GenerationRequest] = field(default_factory=list)

    def add(self, dataset: str, answer_field: str, reference: bool = False, z: bool = False) -> None:
        """Ask for ``answer_field`` of ``dataset`` to be scored (by the reference model when ``reference``)."""
        fields = self.fields.setdefault((dataset, reference), [])
        if answer_field not in fields:
            fields.append(answer_field)
        if z:
            self.z.add((dataset, answer_field, reference))

    def wants_z(self, dataset: str, answer_field: str, reference: bool) -> bool:
        """Whether the pass over this field computes z-scores (always for a field scored without a plan)."""
        planned = answer_field in self.fields.get((dataset, reference), [])
        return not planned or (dataset, answer_field, reference) in self.z


def _one_field(default: str) -> Callable[[MetricEntry, Any], list[tuple[str, str]]]:
    return lambda entry, ds: [(entry.dataset, entry.args.get("field", default))]


def _pair(correct: str) -> Callable[[MetricEntry, Any], list[tuple[str, str]]]:
    return lambda entry, ds: [
        (entry.dataset, entry.args.get("correct", correct)),
        (entry.dataset, entry.args.get("wrong", "perturbed_answer")),
    ]


def _rouge(entry: MetricEntry, ds: Any) -> list[tuple[str, str]]:
    question = entry.args.get("question_field")
    if question not in (None, ds.question_field):
        return []  # its draft is verified by the generation itself
    draft = entry.args.get("draft", entry.args.get("target", "answer"))
    rows = ds.rows
    return [(entry.dataset, draft)] if rows and all(isinstance(r.get(draft), str) for r in rows) else []


def _mia(entry: MetricEntry, suite: EvalSuite) -> list[tuple[str, str]]:
    out = []
    for side in ("forget", "holdout"):
        name = entry.args[side]
        out.append((name, entry.args.get("field", suite.datasets[name].question_field)))
    return out


SINGLE_DATASET: dict[str, Callable[[MetricEntry, Any], list[tuple[str, str]]]] = {
    "probability": _one_field("answer"),
    "extraction_strength": _one_field("answer"),
    "exact_memorization": _one_field("answer"),
    "probability_normalised": _pair("answer"),
    "truth_ratio": _pair("paraphrased_answer"),
    "rouge": _rouge,
}
Z_SCORED = ("mia_min_k_plus_plus",)
"""Metrics that read Min-K%++ z-scores (the costliest statistic, computed only where needed)."""
MIA_SCORED = ("mia_loss", "mia_zlib", "mia_min_k", "mia_min_k_plus_plus", "mia_reference")
DEPENDENCIES: dict[str, Callable[[MetricEntry], list[str]]] = {
    "truth_ratio": lambda e: list(e.args.get("precompute", ())),
    "probability_normalised": lambda e: list(e.args.get("precompute", ())),
    "forget_quality": lambda e: [e.args.get("truth_ratio_key", "forget_truth_ratio")],
    "harmonic_mean": lambda e: list(e.args["keys"]),
    "privleak": lambda e: [e.args.get("mia_key", "mia_min_k")],
    "classifier_prob": lambda e: [e.args["precompute"]],
}


def entry_dependencies(entry: MetricEntry, metric: Any = None) -> list[str]:
    """Other entries that ``entry`` reads (its own ``depends`` for a plugin metric that declares it)."""
    if entry.metric in DEPENDENCIES:
        return DEPENDENCIES[entry.metric](entry)
    depends = getattr(metric, "depends", None)
    return list(depends(entry)) if depends else []


def plan(suite: EvalSuite, metrics: Any, keys: list[str], done: set[str] | None = None) -> Plan:
    """The fields that ``keys`` (and the entries they depend on, except those ``done``) will score, in order."""
    result = Plan()
    seen: set[str] = set(done or ())

    def visit(key: str) -> None:
        if key in seen or key not in suite.entries:
            return
        seen.add(key)
        entry = suite.entries[key]
        metric = metrics.get(entry.metric)
        for dep in entry_dependencies(entry, metric):
            visit(dep)
        for dataset, answer_field in _inputs(entry, metric, suite):
            result.add(dataset, answer_field, z=entry.metric in Z_SCORED or getattr(metric, "needs_z", False))
        if entry.metric == "rouge" and entry.dataset in suite.datasets:
            args = entry.args
            draft = args.get("draft", args.get("target", "answer"))
            stop = tuple(args.get("stop", ()))
            request = GenerationRequest(
                entry.dataset, args.get("question_field"), args.get("max_new_tokens"), stop, draft
            )
            result.generations.append(request)
        if entry.metric == "mia_reference":
            for dataset, answer_field in _mia(entry, suite):
                result.add(dataset, answer_field, reference=True)
        result.order.append(key)

    for key in keys:
        visit(key)
    return result


def _inputs(entry: MetricEntry, metric: Any, suite: EvalSuite) -> list[tuple[str, str]]:
    if entry.metric in SINGLE_DATASET and entry.dataset in suite.datasets:
        return SINGLE_DATASET[entry.metric](entry, suite.datasets[entry.dataset])
    if entry.metric in MIA_SCORED:
        return _mia(entry, suite)
    inputs = getattr(metric, "inputs", None)
    return list(inputs(entry)) if inputs else []

"""``classifier_prob``: a sequence classifier's class probability on another entry's texts (the reference's
gibberish score of generations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.builtin.common import clean, mean, rows
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext
from unlearn_core.evaluation.suite import MetricEntry


@dataclass(frozen=True)
class ClassifierArgs:
    """``precompute``: the entry whose ``text_key`` values are classified; ``classifier``: a directory or hub id
    (``eval.classifier_model``); the probability of ``class_id``; texts truncated to ``max_length`` tokens."""

    precompute: str
    classifier: str | None = None
    class_id: int = 0
    max_length: int = 512
    batch_size: int = 32
    text_key: str = "generation"


def entry(key: str, precompute: str, classifier: str | None, max_length: int = 512) -> MetricEntry:
    """``key`` = the class-0 probability of ``classifier`` on ``precompute``'s generations."""
    return MetricEntry(key, "classifier_prob", None, ClassifierArgs(precompute, classifier, max_length=max_length))


def compute(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """Per sample ``score`` and the text; a list value (one generation per answer) is scored as its first."""
    from unlearn_core.metrics.classifier import class_probabilities  # heavy (torch): loaded on first use

    a = e.args
    if not a.classifier:
        raise ConfigError(f"'{e.key}' needs a sequence classifier: set eval.classifier_model=<directory>")
    source = {i: v[a.text_key] for i, v in ctx.result(a.precompute)["value_by_index"].items()}
    texts = [t[0] if isinstance(t, list) else t for t in source.values()]
    model, tokenizer = ctx.classifier(a.classifier)
    probs = class_probabilities(
        model, tokenizer, texts, class_id=a.class_id, max_length=a.max_length, batch_size=a.batch_size
    )
    by_index = {i: {"score": clean(p), a.text_key: t} for i, p, t in zip(source, probs, texts)}
    return {"agg_value": mean([v["score"] for v in by_index.values()]), "value_by_index": by_index}


def recompute(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """The mean of the stored scores (the classifier is not run again)."""
    r.note("per-sample scores as stored")
    return mean([row["score"] for row in rows(stored)])


METRIC = Metric(
    "classifier_prob",
    compute,
    "a sequence classifier's class probability on another entry's generations",
    args=ClassifierArgs,
    depends=lambda e: [e.args.precompute],
    recompute=recompute,
)

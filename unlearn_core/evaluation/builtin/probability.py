"""``probability``: the per-token geometric-mean probability ``exp(-avg_loss)`` of an answer field (Q_A_Prob)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from unlearn_core.evaluation.builtin.common import clean, mean, rows
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext, Score
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry


@dataclass(frozen=True)
class ProbabilityArgs:
    """``field``: the answer field scored (a list field keeps one value per answer)."""

    field: str = "answer"


def entry(key: str, dataset: str, field: str = "answer") -> MetricEntry:
    """``key`` = the mean probability of ``field`` of ``dataset``."""
    return MetricEntry(key, "probability", dataset, ProbabilityArgs(field))


def compute(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """Per sample ``prob`` and ``avg_loss`` (lists for a list field, as the reference writes them); the mean over
    samples of each sample's (mean) probability."""
    by_index: dict[str, Any] = {}
    for i, st in enumerate(ctx.stats(e.dataset, e.args.field)):
        if isinstance(st, list):
            losses = [s.avg_loss for s in st]
            by_index[str(i)] = {"prob": [clean(math.exp(-x)) for x in losses], "avg_loss": [clean(x) for x in losses]}
        else:
            by_index[str(i)] = {"prob": clean(math.exp(-st.avg_loss)), "avg_loss": clean(st.avg_loss)}
    return {"agg_value": mean([v["prob"] for v in by_index.values()]), "value_by_index": by_index}


def recompute(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """Each probability from its stored loss, then the mean."""
    probs = []
    for row in rows(stored):
        prob, loss = row["prob"], row.get("avg_loss")
        if isinstance(prob, list):
            if isinstance(loss, list) and len(loss) == len(prob):
                prob = [p if x is None else r.compare(p, math.exp(-x)) for p, x in zip(prob, loss)]
        elif loss is not None and not isinstance(loss, list):
            prob = r.compare(prob, math.exp(-loss))
        probs.append(prob)
    return mean(probs)


def _scores(e: MetricEntry, suite: EvalSuite) -> list[Score]:
    return [Score(e.dataset, e.args.field)]


METRIC = Metric(
    "probability",
    compute,
    "mean per-sample exp(-avg_loss) of an answer field",
    args=ProbabilityArgs,
    scores=_scores,
    recompute=recompute,
)

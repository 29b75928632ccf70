"""``extraction_strength`` and ``exact_memorization``: teacher-forced argmax hits over the targets (the last
target, EOS for QA, left out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.evaluation.builtin.common import clean, mean, rows
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext, Score
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry


@dataclass(frozen=True)
class MemorizationArgs:
    """``field``: the answer field whose targets are predicted."""

    field: str = "answer"


def es_entry(key: str, dataset: str, field: str = "answer") -> MetricEntry:
    """``key`` = extraction strength of ``field`` of ``dataset``."""
    return MetricEntry(key, "extraction_strength", dataset, MemorizationArgs(field))


def em_entry(key: str, dataset: str, field: str = "answer") -> MetricEntry:
    """``key`` = exact memorisation of ``field`` of ``dataset``."""
    return MetricEntry(key, "exact_memorization", dataset, MemorizationArgs(field))


def compute_es(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """ES = 1 - k*/n per sample, k* the start of the longest exactly predicted suffix (``suffix`` = n - k*)."""
    from unlearn_core.metrics import memorization  # heavy (torch): loaded on first use

    by_index = {}
    for i, st in enumerate(ctx.stats(e.dataset, e.args.field)):
        n = int(st.argmax_hits.numel())
        suffix = int(st.argmax_hits.long().flip(0).cumprod(0).sum()) if n else 0
        by_index[str(i)] = {"score": clean(memorization.extraction_strength(st.argmax_hits)), "suffix": suffix, "n": n}
    return {"agg_value": mean([v["score"] for v in by_index.values()]), "value_by_index": by_index}


def compute_em(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """EM = the fraction of targets whose argmax is the target, per sample (``hits`` of ``n``)."""
    from unlearn_core.metrics import memorization  # heavy (torch): loaded on first use

    by_index = {}
    for i, st in enumerate(ctx.stats(e.dataset, e.args.field)):
        hits, n = int(st.argmax_hits.sum()), int(st.argmax_hits.numel())
        by_index[str(i)] = {"score": clean(memorization.exact_memorization(st.argmax_hits)), "hits": hits, "n": n}
    return {"agg_value": mean([v["score"] for v in by_index.values()]), "value_by_index": by_index}


def _recompute(part: str) -> Any:
    def recompute(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
        scores = []
        for row in rows(stored):
            if row.get(part) is None or not row.get("n"):
                scores.append(row["score"])  # another tool's record: the score as stored
            else:
                scores.append(r.compare(row["score"], row[part] / row["n"]))
        return mean(scores)

    recompute.__doc__ = f"Each score from its stored ``{part}`` and ``n``, then the mean."
    return recompute


def _scores(e: MetricEntry, suite: EvalSuite) -> list[Score]:
    return [Score(e.dataset, e.args.field)]


EXTRACTION_STRENGTH = Metric(
    "extraction_strength",
    compute_es,
    "1 - k*/n, k* the start of the longest exactly predicted suffix",
    args=MemorizationArgs,
    scores=_scores,
    recompute=_recompute("suffix"),
)
EXACT_MEMORIZATION = Metric(
    "exact_memorization",
    compute_em,
    "mean argmax hit rate over the answer",
    args=MemorizationArgs,
    scores=_scores,
    recompute=_recompute("hits"),
)

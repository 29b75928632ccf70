"""``truth_ratio`` and ``probability_normalised``: a correct answer's probability against its perturbed answers'.

Both compare two answer fields of one data set. The probabilities they compare are entries of their own
(``precompute``), as in the reference's result files, computed from the same fused scoring pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from unlearn_core.evaluation.builtin.common import clean, mean, rows
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext, Score
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry
from unlearn_core.metrics import truth_ratio as tr_math

AGGREGATORS = ("closer_to_1_better", "true_better")


@dataclass(frozen=True)
class TruthRatioArgs:
    """``correct`` and ``wrong`` (a list field) answer fields; ``aggregator`` of the per-sample ratios (truth ratio
    only); ``precompute``: the keys of the two probability entries, computed first and written as entries."""

    correct: str
    wrong: str = "perturbed_answer"
    aggregator: str = "closer_to_1_better"
    precompute: tuple[str, ...] = ()


def truth_ratio_entry(
    key: str,
    dataset: str,
    correct: str,
    aggregator: str,
    precompute: tuple[str, ...] = (),
    wrong: str = "perturbed_answer",
) -> MetricEntry:
    """``key`` = the truth ratio of ``dataset`` (``correct`` against ``wrong``), aggregated by ``aggregator``."""
    if aggregator not in AGGREGATORS:
        raise ValueError(f"unknown truth-ratio aggregator '{aggregator}'; valid choices: {', '.join(AGGREGATORS)}")
    return MetricEntry(key, "truth_ratio", dataset, TruthRatioArgs(correct, wrong, aggregator, tuple(precompute)))


def normalised_entry(
    key: str, dataset: str, correct: str = "answer", precompute: tuple[str, ...] = (), wrong: str = "perturbed_answer"
) -> MetricEntry:
    """``key`` = ``P(correct) / (P(correct) + Σ P(wrong))`` on ``dataset``."""
    return MetricEntry(
        key, "probability_normalised", dataset, TruthRatioArgs(correct, wrong, precompute=tuple(precompute))
    )


def _losses(ctx: EvaluationContext, e: MetricEntry) -> tuple[list[float], list[list[float]]]:
    correct = [st.avg_loss for st in ctx.stats(e.dataset, e.args.correct)]
    wrong = [[s.avg_loss for s in (st if isinstance(st, list) else [st])] for st in ctx.stats(e.dataset, e.args.wrong)]
    return correct, wrong


def _inputs(correct: float, wrong: list[float]) -> dict[str, Any]:
    return {"correct_avg_loss": clean(correct), "wrong_avg_losses": [clean(w) for w in wrong]}


def compute_truth_ratio(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """``P_wrong / P_correct`` per sample (raw, as ``score``), both aggregates in ``by_aggregator``; ``agg_value``
    is the entry's own aggregator."""
    correct, wrong = _losses(ctx, e)
    ratios = tr_math.truth_ratios(correct, wrong)
    by_index = {
        str(i): {"score": clean(float(v)), **_inputs(c, w)} for i, (v, c, w) in enumerate(zip(ratios, correct, wrong))
    }
    both = {name: clean(tr_math.aggregate_truth_ratio(ratios, name)) for name in AGGREGATORS}
    aggregator = e.args.aggregator
    return {"agg_value": both[aggregator], "aggregator": aggregator, "by_aggregator": both, "value_by_index": by_index}


def compute_normalised(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """``P(correct) / (P(correct) + Σ P(wrong))`` per sample and its mean."""
    correct, wrong = _losses(ctx, e)
    scores = tr_math.probability_normalised(correct, wrong)
    by_index = {
        str(i): {"prob": clean(float(s)), **_inputs(c, w)} for i, (s, c, w) in enumerate(zip(scores, correct, wrong))
    }
    return {"agg_value": mean([float(s) for s in scores]), "value_by_index": by_index}


def _stored_losses(stored: dict[str, Any]) -> tuple[list[float], list[list[float]]] | None:
    records = rows(stored)
    if not all("correct_avg_loss" in row for row in records):
        return None  # another tool's file: per-sample values as stored
    return [row["correct_avg_loss"] for row in records], [row["wrong_avg_losses"] for row in records]


def recompute_truth_ratio(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """Ratios from their stored losses, both aggregates; the stored aggregator (inferred for another tool's file)."""
    scores = [row["score"] for row in rows(stored)]
    losses = _stored_losses(stored)
    if losses is not None:
        scores = [r.compare(s, float(d)) for s, d in zip(scores, tr_math.truth_ratios(*losses))]
    r.keep_samples(scores)
    finite = [float(s) for s in scores if s is not None and np.isfinite(s)]
    both = {name: tr_math.aggregate_truth_ratio(finite, name) for name in AGGREGATORS}
    for name, value in (stored.get("by_aggregator") or {}).items():
        if name in both:
            r.compare(value, both[name])
    aggregator = stored.get("aggregator") or getattr(r.args, "aggregator", None)
    if aggregator is None:  # another tool's file: whichever aggregator reproduces the stored value
        stored_value = stored.get("agg_value")
        matching = [n for n, v in both.items() if stored_value is not None and np.isclose(v, stored_value, rtol=1e-6)]
        aggregator = matching[0] if matching else AGGREGATORS[0]
        r.note(f"aggregator inferred: {aggregator}")
    return both[aggregator]


def recompute_normalised(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """Each normalised probability from its stored losses, then the mean."""
    records = rows(stored)
    losses = _stored_losses(stored)
    if losses is None:
        return mean([row["prob"] for row in records])
    return mean([r.compare(row["prob"], float(d)) for row, d in zip(records, tr_math.probability_normalised(*losses))])


def _scores(e: MetricEntry, suite: EvalSuite) -> list[Score]:
    return [Score(e.dataset, e.args.correct), Score(e.dataset, e.args.wrong)]


def _depends(e: MetricEntry) -> tuple[str, ...]:
    return e.args.precompute


TRUTH_RATIO = Metric(
    "truth_ratio",
    compute_truth_ratio,
    "P(perturbed) / P(correct) per sample, aggregated",
    args=TruthRatioArgs,
    scores=_scores,
    depends=_depends,
    recompute=recompute_truth_ratio,
)
PROBABILITY_NORMALISED = Metric(
    "probability_normalised",
    compute_normalised,
    "P(correct) / (P(correct) + sum of P(perturbed))",
    args=TruthRatioArgs,
    scores=_scores,
    depends=_depends,
    recompute=recompute_normalised,
)

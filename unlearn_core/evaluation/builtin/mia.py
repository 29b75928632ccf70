"""The membership-inference attacks: per-sample scores on a forget and a holdout set, and the AUC between them.

Each score is signed like a loss (higher = less likely a member); the AUC labels forget 0 and holdout 1, so it is
near 1 when the forget data looks memorised. Every attack reads the statistics of the fused scoring pass, except
``mia_gradnorm`` (its own passes, with gradients) and ``mia_reference`` (a pass of the MIA's reference model too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from unlearn_core.evaluation.builtin.common import clean, mean
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext, Score
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry

ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus", "gradnorm", "reference")
SIDES = ("forget", "holdout")


@dataclass(frozen=True)
class MiaArgs:
    """``forget`` and ``holdout``: the two data sets; ``field``: the field scored (by default each data set's
    question field: the document itself for text sets); ``k``: the Min-K% share (min_k, min_k_plus_plus)."""

    forget: str
    holdout: str
    field: str | None = None
    k: float = 0.4


def entries(forget: str, holdout: str, field: str | None = None, k: float = 0.4) -> list[MetricEntry]:
    """One entry per attack, keyed ``mia_<attack>``."""
    return [MetricEntry(f"mia_{a}", f"mia_{a}", None, MiaArgs(forget, holdout, field, k)) for a in ATTACKS]


def _scores_of(kind: str, ctx: EvaluationContext, dataset: str, field: str, k: float) -> list[dict[str, Any]]:
    from unlearn_core.metrics import mia  # heavy (torch): loaded on first use

    if kind == "gradnorm":
        return [{"score": s} for s in ctx.gradnorm_scores(dataset, field)]
    stats = ctx.stats(dataset, field, need_z=kind == "min_k_plus_plus")
    if kind == "loss":
        return [{"score": mia.loss_score(s.avg_loss)} for s in stats]
    if kind == "zlib":
        return [{"score": mia.zlib_score(s.avg_loss, t)} for s, t in zip(stats, ctx.target_texts(dataset, field))]
    if kind == "min_k":
        return [{"score": mia.min_k_score(s.token_logprobs, k)} for s in stats]
    if kind == "min_k_plus_plus":
        return [{"score": mia.min_k_plus_plus_score(s.minkpp_z, k)} for s in stats]
    ref = ctx.stats(dataset, field, mia_reference=True)
    return [
        {"score": mia.reference_score(s.avg_loss, r.avg_loss), "loss": s.avg_loss, "reference_loss": r.avg_loss}
        for s, r in zip(stats, ref)
    ]


def _compute(kind: str) -> Callable[[EvaluationContext, MetricEntry], dict[str, Any]]:
    def compute(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
        from unlearn_core.metrics import mia  # heavy (torch): loaded on first use

        out: dict[str, Any] = {}
        for side in SIDES:
            dataset = getattr(e.args, side)
            field = e.args.field or ctx.dataset(dataset).question_field
            values = _scores_of(kind, ctx, dataset, field, e.args.k)
            by_index = {str(i): {k: clean(v) for k, v in value.items()} for i, value in enumerate(values)}
            out[side] = {"value_by_index": by_index, "agg_value": mean([v["score"] for v in values])}
        forget, holdout = (
            [v["score"] for v in out[s]["value_by_index"].values() if v["score"] is not None] for s in SIDES
        )
        auc = clean(mia.auc(forget, holdout))
        return {**out, "auc": auc, "agg_value": auc}

    compute.__doc__ = f"Attack '{kind}': per-sample scores on forget and holdout, their means, and the AUC."
    return compute


def recompute(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """Each side's mean from its stored scores, and the AUC from both sides."""
    from unlearn_core.metrics import mia  # heavy (torch): loaded on first use

    sides = []
    for side in SIDES:
        scores = [row["score"] for row in stored[side]["value_by_index"].values()]
        r.compare(stored[side].get("agg_value"), mean(scores))
        sides.append([float(s) for s in scores if s is not None])
    value = mia.auc(*sides)
    if "auc" in stored:
        r.compare(stored["auc"], value)
    return value


def _declaration(kind: str) -> Callable[[MetricEntry, EvalSuite], list[Score]]:
    def scores(e: MetricEntry, suite: EvalSuite) -> list[Score]:
        if kind == "gradnorm":
            return []  # its own passes
        out = []
        for side in SIDES:
            dataset = getattr(e.args, side)
            field = e.args.field or suite.datasets[dataset].question_field
            out.append(Score(dataset, field, z=kind == "min_k_plus_plus"))
            if kind == "reference":
                out.append(Score(dataset, field, mia_reference=True))
        return out

    return scores


DESCRIPTIONS = {
    "loss": "average loss",
    "zlib": "loss / zlib length of the target text",
    "min_k": "Min-K% token log-probabilities",
    "min_k_plus_plus": "Min-K%++ z-scores",
    "gradnorm": "gradient norm",
    "reference": "loss minus the MIA reference model's",
}
METRICS = [
    Metric(
        f"mia_{kind}",
        _compute(kind),
        f"membership-inference attack: {DESCRIPTIONS[kind]}",
        args=MiaArgs,
        scores=_declaration(kind),
        recompute=recompute,
    )
    for kind in ATTACKS
]

"""``multiple_choice``: accuracy on multiple-choice questions, as lm-evaluation-harness computes ``acc`` and
``acc_norm`` for its ``multiple_choice`` tasks (``wmdp_*``, ``mmlu_*``).

Each choice's log-likelihood is the sum of its continuation tokens' log-probabilities after the question's context,
scored in the fused pass of a ``kind="choice"`` data set (token ids by ``choice_tokens``). ``pred`` is the first
choice with the highest log-likelihood, ``acc`` whether it is the answer; ``acc_norm`` does the same with each
log-likelihood divided by its choice's length in characters (the choice as listed, without the delimiter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from unlearn_core.evaluation.builtin.common import rows
from unlearn_core.evaluation.metric import EvaluationContext, Metric, RecomputeContext, Score
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry


@dataclass(frozen=True)
class MultipleChoiceArgs:
    """``choices``: the list field of the choices scored after the context; ``answer``: the field holding the index
    of the right choice."""

    choices: str = "choices"
    answer: str = "answer"


def entry(key: str, dataset: str, choices: str = "choices", answer: str = "answer") -> MetricEntry:
    """``key`` = multiple-choice accuracy on ``dataset`` (a ``kind="choice"`` data set)."""
    return MetricEntry(key, "multiple_choice", dataset, MultipleChoiceArgs(choices, answer))


def score_row(loglikelihoods: list[float], choices: list[str], answer: int) -> dict[str, Any]:
    """One question's record: ``acc``, ``acc_norm``, ``pred`` (the argmax), the answer as ``target`` and the
    ``loglikelihoods`` (one per choice, in choice order)."""
    lls = np.asarray(loglikelihoods, dtype=np.float64)
    lengths = np.asarray([float(len(c)) for c in choices])
    pred, pred_norm = int(np.argmax(lls)), int(np.argmax(lls / lengths))
    return {
        "acc": float(pred == answer),
        "acc_norm": float(pred_norm == answer),
        "pred": pred,
        "target": answer,
        "loglikelihoods": [float(x) for x in lls],
    }


def compute(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """Per question the ``score_row`` record; ``agg_value`` is the mean ``acc``, ``acc_norm`` the mean
    ``acc_norm``."""
    stats = ctx.stats(e.dataset, e.args.choices)
    choices, answers = ctx.texts(e.dataset, e.args.choices), ctx.texts(e.dataset, e.args.answer)
    by_index: dict[str, Any] = {}
    for i, (row_stats, row_choices, answer) in enumerate(zip(stats, choices, answers)):
        by_index[str(i)] = score_row([-s.nll_sum for s in row_stats], row_choices, int(answer))
    return {**aggregate(list(by_index.values())), "value_by_index": by_index}


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """``agg_value`` (mean acc) and ``acc_norm`` (mean acc_norm) of per-question records (None when there are none)."""
    if not records:
        return {"agg_value": None, "acc_norm": None}
    return {
        "agg_value": float(np.mean([r["acc"] for r in records])),
        "acc_norm": float(np.mean([r["acc_norm"] for r in records])),
    }


def recompute(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """Each ``pred`` and ``acc`` from the stored log-likelihoods and answer, then the mean acc."""
    accs = []
    for row in rows(stored):
        lls, target = row.get("loglikelihoods"), row.get("target")
        if isinstance(lls, list) and lls and target is not None:
            pred = r.compare(row["pred"], int(np.argmax(np.asarray(lls, dtype=np.float64))))
            accs.append(r.compare(row["acc"], float(pred == target)))
        else:
            accs.append(row["acc"])
    return float(np.mean(accs)) if accs else None


def _scores(e: MetricEntry, suite: EvalSuite) -> list[Score]:
    return [Score(e.dataset, e.args.choices)]


METRIC = Metric(
    "multiple_choice",
    compute,
    "multiple-choice accuracy (acc, acc_norm) from each choice's log-likelihood, as lm-evaluation-harness",
    args=MultipleChoiceArgs,
    scores=_scores,
    recompute=recompute,
)

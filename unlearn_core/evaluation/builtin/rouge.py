"""``rouge``: ROUGE of greedy generations against an answer field (TOFU's Q_A_ROUGE, MUSE's verbmem and knowmem)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.evaluation.builtin.common import mean, rows
from unlearn_core.evaluation.metric import EvaluationContext, Generate, Metric, RecomputeContext, Score
from unlearn_core.evaluation.suite import EvalSuite, MetricEntry
from unlearn_core.metrics.rouge import rouge_scores

ROUGE_FIELDS = ("rouge1_recall", "rouge1_f1", "rougeL_recall", "rougeL_f1")


@dataclass(frozen=True)
class RougeArgs:
    """``target``: the answer field compared with (a list field: one score per answer); ``rouge_type``: the
    aggregated figure; generation from ``question_field`` (the data set's question by default), at most
    ``max_new_tokens`` (``generation.max_new_tokens`` by default), cut at ``stop``; ``draft``: the answer field
    the decoding may follow (by default ``target``; no effect on the result)."""

    target: str = "answer"
    rouge_type: str = "rougeL_recall"
    question_field: str | None = None
    max_new_tokens: int | None = None
    stop: tuple[str, ...] = ()
    draft: str | None = None


def entry(key: str, dataset: str, **args: Any) -> MetricEntry:
    """``key`` = ROUGE of ``dataset``'s generations; ``args`` are ``RougeArgs`` fields."""
    if "stop" in args:
        args["stop"] = tuple(args["stop"])
    kind = args.get("rouge_type", "rougeL_recall")
    if kind not in ROUGE_FIELDS:
        raise ValueError(f"unknown rouge_type '{kind}'; valid choices: {', '.join(ROUGE_FIELDS)}")
    return MetricEntry(key, "rouge", dataset, RougeArgs(**args))


def _request(e: MetricEntry) -> Generate:
    a = e.args
    return Generate(e.dataset, a.question_field, a.max_new_tokens, tuple(a.stop), a.draft or a.target)


def compute(ctx: EvaluationContext, e: MetricEntry) -> dict[str, Any]:
    """Per sample the ROUGE figures, ``input``, ``ground_truth`` and ``generation`` (lists against a list field);
    the mean of ``rouge_type`` over samples (a list counts as its mean)."""
    question = e.args.question_field or ctx.dataset(e.dataset).question_field
    generations = ctx.generations(_request(e))
    truths = ctx.ground_truths(e.dataset, e.args.target, question)
    prompts = ctx.inputs(e.dataset, question)
    by_index = {str(i): rouge_row(g, t, p) for i, (g, t, p) in enumerate(zip(generations, truths, prompts))}
    kind = e.args.rouge_type
    return {"agg_value": mean([v[kind] for v in by_index.values()]), "rouge_type": kind, "value_by_index": by_index}


def rouge_row(generation: str, ground_truth: str | list[str], prompt: str) -> dict[str, Any]:
    """One sample's record; against a list of ground truths every field is a list (one per answer)."""
    if isinstance(ground_truth, str):
        scores = rouge_scores(generation, ground_truth)
        return {**scores, "input": prompt, "ground_truth": ground_truth, "generation": generation}
    each = [rouge_scores(generation, gt) for gt in ground_truth]
    return {
        **{name: [s[name] for s in each] for name in ROUGE_FIELDS},
        "input": [prompt] * len(each),
        "ground_truth": list(ground_truth),
        "generation": [generation] * len(each),
    }


def recompute(r: RecomputeContext, stored: dict[str, Any]) -> float | None:
    """Every ROUGE figure from the stored generation and ground truth; the stored ``rouge_type`` (inferred for
    another tool's file: the figure that reproduces the stored value)."""
    values = []
    for row in rows(stored):
        listed = isinstance(row["ground_truth"], list)
        truths = row["ground_truth"] if listed else [row["ground_truth"]]
        generations = row["generation"] if isinstance(row["generation"], list) else [row["generation"]] * len(truths)
        each = [rouge_scores(g, t) for g, t in zip(generations, truths)]
        for name in ROUGE_FIELDS:
            if name in row:
                for a, b in zip(row[name] if listed else [row[name]], (s[name] for s in each)):
                    r.compare(a, b)
        values.append({name: mean([s[name] for s in each]) for name in ROUGE_FIELDS})
    kind = stored.get("rouge_type") or getattr(r.args, "rouge_type", None)
    if kind is None:
        kind = next((n for n in ROUGE_FIELDS if _close(mean([v[n] for v in values]), stored.get("agg_value"))), None)
        r.note(f"rouge type inferred: {kind or 'rougeL_recall'}")
    return mean([v[kind or "rougeL_recall"] for v in values])


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-12)


def _scores(e: MetricEntry, suite: EvalSuite) -> list[Score]:
    """The draft answer is scored with the other fields when generation starts from the data set's own prompt
    (its teacher-forced predictions then settle the draft at no extra cost)."""
    ds = suite.datasets.get(e.dataset)
    draft = e.args.draft or e.args.target
    if ds is None or e.args.question_field not in (None, ds.question_field):
        return []
    return [Score(e.dataset, draft)] if ds.rows and all(isinstance(r.get(draft), str) for r in ds.rows) else []


def _generates(e: MetricEntry, suite: EvalSuite) -> list[Generate]:
    return [_request(e)]


METRIC = Metric(
    "rouge",
    compute,
    "ROUGE of greedy generations against the ground truth",
    args=RougeArgs,
    scores=_scores,
    generates=_generates,
    recompute=recompute,
)

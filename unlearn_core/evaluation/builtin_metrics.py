"""The built-in metrics: functions of the engine's cached statistics and generations (METRICS.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from unlearn_core.errors import ConfigError, ReferenceLogError
from unlearn_core.evaluation.suite import MetricEntry
from unlearn_core.metrics import forget_quality as fq
from unlearn_core.metrics import memorization, mia
from unlearn_core.metrics import truth_ratio as tr_math
from unlearn_core.metrics.classifier import class_probabilities
from unlearn_core.metrics.rouge import rouge_scores


def _clean(value: Any) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _mean(values: list[Any]) -> float | None:
    """Mean of the finite values; a list value (one per answer of a list field) counts as its own mean."""
    finite = [v for v in (_row_mean(v) for v in values) if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _row_mean(value: Any) -> float | None:
    if not isinstance(value, list):
        return value
    finite = [v for v in value if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _avg_losses(stats: list[Any]) -> list[Any]:
    return [[s.avg_loss for s in st] if isinstance(st, list) else st.avg_loss for st in stats]


def probability(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Q_A_Prob: mean over samples of exp(-avg_loss); a list field keeps one value per answer (``prob`` and
    ``avg_loss`` are lists, as the reference writes them) and a sample counts as their mean."""
    by_index: dict[str, Any] = {}
    for i, st in enumerate(ctx.stats(entry.dataset, entry.args.get("field", "answer"))):
        if isinstance(st, list):
            losses = [s.avg_loss for s in st]
            by_index[str(i)] = {"prob": [_clean(math.exp(-x)) for x in losses], "avg_loss": [_clean(x) for x in losses]}
        else:
            by_index[str(i)] = {"prob": _clean(math.exp(-st.avg_loss)), "avg_loss": _clean(st.avg_loss)}
    return {"agg_value": _mean([v["prob"] for v in by_index.values()]), "value_by_index": by_index}


def _correct_and_wrong(ctx: Any, entry: MetricEntry, correct_default: str) -> tuple[list[float], list[list[float]]]:
    correct = _avg_losses(ctx.stats(entry.dataset, entry.args.get("correct", correct_default)))
    wrong = _avg_losses(ctx.stats(entry.dataset, entry.args.get("wrong", "perturbed_answer")))
    return correct, [w if isinstance(w, list) else [w] for w in wrong]


def _losses(correct: float, wrong: list[float]) -> dict[str, Any]:
    return {"correct_avg_loss": _clean(correct), "wrong_avg_losses": [_clean(w) for w in wrong]}


def probability_normalised(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Q_A_Prob_normalised: P(correct) / (P(correct) + sum of P(perturbed))."""
    correct, wrong = _correct_and_wrong(ctx, entry, "answer")
    scores = tr_math.probability_normalised(correct, wrong)
    by_index = {
        str(i): {"prob": _clean(float(s)), **_losses(c, w)} for i, (s, c, w) in enumerate(zip(scores, correct, wrong))
    }
    return {"agg_value": _mean([float(s) for s in scores]), "value_by_index": by_index}


def truth_ratio(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Truth ratio P_wrong / P_correct per sample (raw), aggregated as ``closer_to_1_better`` or ``true_better``.

    Both aggregates are stored (``by_aggregator``); ``agg_value`` is the entry's own ``aggregator``.
    """
    correct, wrong = _correct_and_wrong(ctx, entry, "paraphrased_answer")
    tr = tr_math.truth_ratios(correct, wrong)
    by_index = {
        str(i): {"score": _clean(float(v)), **_losses(c, w)} for i, (v, c, w) in enumerate(zip(tr, correct, wrong))
    }
    both = {name: _clean(tr_math.aggregate_truth_ratio(tr, name)) for name in ("closer_to_1_better", "true_better")}
    aggregator = entry.args["aggregator"]
    return {"agg_value": both[aggregator], "aggregator": aggregator, "by_aggregator": both, "value_by_index": by_index}


ROUGE_FIELDS = ("rouge1_recall", "rouge1_f1", "rougeL_recall", "rougeL_f1")


def rouge(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """ROUGE of greedy generations against ``target`` (a list field: one score per answer, lists per sample).

    Generated from ``question_field`` (default: the data set's question); the ground truth and the ``input`` are
    derived from the scored ids as the reference derives them; the aggregate is ``rouge_type`` (rougeL_recall for
    TOFU). ``draft`` names the answer used to skip decoding steps (no effect on the result).
    """
    ds = ctx.dataset(entry.dataset)
    question = entry.args.get("question_field", ds.question_field)
    target = entry.args.get("target", "answer")
    generations = ctx.generations(
        entry.dataset,
        entry.args.get("max_new_tokens"),
        entry.args.get("stop", ()),
        question_field=question,
        draft_field=entry.args.get("draft", target),
    )
    truths = ctx.ground_truths(entry.dataset, target, question)
    inputs = ctx.inputs(entry.dataset, question)
    by_index = {
        str(i): rouge_row(gen, gt, prompt) for i, (gen, gt, prompt) in enumerate(zip(generations, truths, inputs))
    }
    kind = entry.args.get("rouge_type", "rougeL_recall")
    return {"agg_value": _mean([v[kind] for v in by_index.values()]), "rouge_type": kind, "value_by_index": by_index}


def rouge_row(generation: str, ground_truth: str | list[str], prompt: str) -> dict[str, Any]:
    """One sample's ROUGE entry; against a list of ground truths every field is a list (one per answer)."""
    if isinstance(ground_truth, str):
        return {
            **rouge_scores(generation, ground_truth),
            "input": prompt,
            "ground_truth": ground_truth,
            "generation": generation,
        }
    each = [rouge_scores(generation, gt) for gt in ground_truth]
    return {
        **{name: [s[name] for s in each] for name in ROUGE_FIELDS},
        "input": [prompt] * len(each),
        "ground_truth": list(ground_truth),
        "generation": [generation] * len(each),
    }


def forget_quality(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """KS-test p-value between this model's and the retain model's forget truth ratios."""
    key = entry.args.get("truth_ratio_key", "forget_truth_ratio")
    ours = [v["score"] for v in ctx.result(key)["value_by_index"].values()]
    ref_entry = ctx.reference(key)
    try:
        theirs = [v["score"] for v in ref_entry["value_by_index"].values()]
    except (KeyError, TypeError, AttributeError):
        raise ReferenceLogError(f"reference logs: '{key}' has no value_by_index with 'score' values") from None
    if len(theirs) != len(ours):
        raise ReferenceLogError(
            f"reference logs: '{key}' has {len(theirs)} samples, this evaluation has {len(ours)}: "
            "they come from a different forget split"
        )
    ours_f = [v for v in ours if v is not None]
    theirs_f = [v for v in theirs if v is not None]
    return {"agg_value": fq.forget_quality(ours_f, theirs_f), "n": len(ours_f), "reference_n": len(theirs_f)}


def harmonic_mean(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Model utility: harmonic mean of other entries' aggregates (0 when any is 0)."""
    values = {k: ctx.result(k)["agg_value"] for k in entry.args["keys"]}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        return {"agg_value": None, "undefined_because": missing}
    return {"agg_value": fq.model_utility(values), "components": values}


def _mia(ctx: Any, entry: MetricEntry, score_fn: Any) -> dict[str, Any]:
    sides = {}
    for side in ("forget", "holdout"):
        ds_name = entry.args[side]
        field = entry.args.get("field", ctx.dataset(ds_name).question_field)
        values = score_fn(ds_name, field)
        by_index = {str(i): {k: _clean(v) for k, v in value.items()} for i, value in enumerate(values)}
        sides[side] = {"value_by_index": by_index, "agg_value": _mean([v["score"] for v in values])}
    forget = [v["score"] for v in sides["forget"]["value_by_index"].values() if v["score"] is not None]
    holdout = [v["score"] for v in sides["holdout"]["value_by_index"].values() if v["score"] is not None]
    auc = mia.auc(forget, holdout)
    return {**sides, "auc": _clean(auc), "agg_value": _clean(auc)}


def _mia_metric(kind: str) -> Any:
    def compute(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
        k = entry.args.get("k", 0.4)

        def scores(ds_name: str, field: str) -> list[dict[str, float]]:
            if kind == "gradnorm":  # its own passes, with gradients
                return [{"score": s} for s in ctx.gradnorm_scores(ds_name, field)]
            stats = ctx.stats(ds_name, field, need_z=kind == "min_k_plus_plus")
            if kind == "loss":
                return [{"score": mia.loss_score(s.avg_loss)} for s in stats]
            if kind == "zlib":
                texts = ctx.target_texts(ds_name, field)
                return [{"score": mia.zlib_score(s.avg_loss, t)} for s, t in zip(stats, texts)]
            if kind == "min_k":
                return [{"score": mia.min_k_score(s.token_logprobs, k)} for s in stats]
            if kind == "min_k_plus_plus":
                return [{"score": mia.min_k_plus_plus_score(s.minkpp_z, k)} for s in stats]
            ref = ctx.stats(ds_name, field, reference=True)
            return [
                {"score": mia.reference_score(s.avg_loss, r.avg_loss), "loss": s.avg_loss, "reference_loss": r.avg_loss}
                for s, r in zip(stats, ref)
            ]

        return _mia(ctx, entry, scores)

    compute.__doc__ = f"Membership-inference attack '{kind}': per-sample scores on forget and holdout, and the AUC."
    return compute


def privleak(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Relative AUC gap of an MIA against the retain model's AUC (near 0 is ideal)."""
    key = entry.args.get("mia_key", "mia_min_k")
    auc = ctx.result(key)["auc"]
    ref = ctx.reference(key)
    ref_auc = ref.get("auc", ref.get("agg_value")) if isinstance(ref, dict) else None
    if ref_auc is None:
        raise ReferenceLogError(f"reference logs: '{key}' has no AUC (agg_value)")
    return {"agg_value": _clean(fq.privleak(auc, ref_auc)), "auc": auc, "reference_auc": ref_auc}


def extraction_strength(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """ES: 1 - k*/n per sample, k* the start of the longest exactly predicted suffix (``suffix`` = n - k*)."""
    by_index = {}
    for i, st in enumerate(ctx.stats(entry.dataset, entry.args.get("field", "answer"))):
        n = int(st.argmax_hits.numel())
        suffix = int(st.argmax_hits.long().flip(0).cumprod(0).sum()) if n else 0
        by_index[str(i)] = {"score": _clean(memorization.extraction_strength(st.argmax_hits)), "suffix": suffix, "n": n}
    return {"agg_value": _mean([v["score"] for v in by_index.values()]), "value_by_index": by_index}


def exact_memorization(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """EM: fraction of targets (excluding EOS) whose argmax is the target, per sample (``hits`` of ``n``)."""
    by_index = {}
    for i, st in enumerate(ctx.stats(entry.dataset, entry.args.get("field", "answer"))):
        hits, n = int(st.argmax_hits.sum()), int(st.argmax_hits.numel())
        by_index[str(i)] = {"score": _clean(memorization.exact_memorization(st.argmax_hits)), "hits": hits, "n": n}
    return {"agg_value": _mean([v["score"] for v in by_index.values()]), "value_by_index": by_index}


mia_loss = _mia_metric("loss")
mia_zlib = _mia_metric("zlib")
mia_min_k = _mia_metric("min_k")
mia_min_k_plus_plus = _mia_metric("min_k_plus_plus")
mia_gradnorm = _mia_metric("gradnorm")
mia_reference = _mia_metric("reference")


def classifier_prob(ctx: Any, entry: MetricEntry) -> dict[str, Any]:
    """Probability of class ``class_id`` of the sequence classifier at ``classifier`` (a directory or hub id) on
    the ``text_key`` values of another entry (``precompute``: the generations of a ROUGE entry): the reference's
    gibberish score. A list value (one generation per answer) is scored as its first element."""
    source = ctx.result(entry.args["precompute"])
    text_key = entry.args.get("text_key", "generation")
    rows = {i: v[text_key] for i, v in source["value_by_index"].items()}
    texts = [t[0] if isinstance(t, list) else t for t in rows.values()]
    if not entry.args.get("classifier"):
        raise ConfigError(f"'{entry.key}' needs a sequence classifier: set eval.classifier_model=<directory>")
    model, tokenizer = ctx.classifier(entry.args["classifier"])
    probs = class_probabilities(
        model,
        tokenizer,
        texts,
        class_id=int(entry.args.get("class_id", 0)),
        max_length=int(entry.args.get("max_length", 512)),
        batch_size=int(entry.args.get("batch_size", 32)),
    )
    by_index = {i: {"score": _clean(p), text_key: t} for i, p, t in zip(rows, probs, texts)}
    return {"agg_value": _mean([v["score"] for v in by_index.values()]), "value_by_index": by_index}

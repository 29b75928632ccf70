"""TOFU's evaluation: data sets (forget, retain, real authors, world facts, holdout) and metric entries."""

from __future__ import annotations

from typing import Any

from unlearn_core.evaluation.suite import EvalDataset, EvalSuite, MetricEntry

DEFAULT_KEYS = [
    "forget_quality",
    "model_utility",
    "forget_truth_ratio",
    "forget_Q_A_Prob",
    "forget_Q_A_ROUGE",
    "privleak",
    "extraction_strength",
]
TABLE_COLUMNS = ["forget_quality", "model_utility", "forget_truth_ratio", "forget_Q_A_Prob", "forget_Q_A_ROUGE"]
UTILITY_KEYS = [
    "retain_Q_A_Prob",
    "retain_Q_A_ROUGE",
    "retain_Truth_Ratio",
    "ra_Q_A_Prob_normalised",
    "ra_Q_A_ROUGE",
    "ra_Truth_Ratio",
    "wf_Q_A_Prob_normalised",
    "wf_Q_A_ROUGE",
    "wf_Truth_Ratio",
]


def _rouge_variants(part: str, rouge: dict[str, Any]) -> list[MetricEntry]:
    """ROUGE on the paraphrased and perturbed answers (docs/metrics.md).

    ``PARA_ROUGE``: generation from ``paraphrased_question`` scored against ``paraphrased_answer``.
    ``PERT_ROUGE``: the ``Q_A_ROUGE`` generation (from ``question``) scored against each ``perturbed_answer``, mean
    per sample (high = the model's answer is as close to the wrong answers as to the right one).
    """
    para = {**rouge, "question_field": "paraphrased_question", "target": "paraphrased_answer"}
    pert = {**rouge, "target": "perturbed_answer", "draft": "answer"}
    return [
        MetricEntry(f"{part}_Q_A_PARA_ROUGE", "rouge", part, para),
        MetricEntry(f"{part}_Q_A_PERT_ROUGE", "rouge", part, pert),
    ]


def _entries(max_new_tokens: int | None) -> list[MetricEntry]:
    rouge: dict[str, Any] = {"target": "answer", "rouge_type": "rougeL_recall"}
    if max_new_tokens:
        rouge["max_new_tokens"] = max_new_tokens
    entries = [
        MetricEntry("forget_Q_A_Prob", "probability", "forget", {"field": "answer"}),
        MetricEntry("forget_Q_A_PARA_Prob", "probability", "forget", {"field": "paraphrased_answer"}),
        MetricEntry("forget_Q_A_PERT_Prob", "probability", "forget", {"field": "perturbed_answer"}),
        MetricEntry("forget_Q_A_ROUGE", "rouge", "forget", dict(rouge)),
        *_rouge_variants("forget", rouge),
        MetricEntry(
            "forget_truth_ratio",
            "truth_ratio",
            "forget",
            {"correct": "paraphrased_answer", "wrong": "perturbed_answer", "aggregator": "closer_to_1_better"},
        ),
        MetricEntry("forget_quality", "forget_quality", None, {"truth_ratio_key": "forget_truth_ratio"}),
        MetricEntry("retain_Q_A_Prob", "probability", "retain", {"field": "answer"}),
        MetricEntry("retain_Q_A_PARA_Prob", "probability", "retain", {"field": "paraphrased_answer"}),
        MetricEntry("retain_Q_A_PERT_Prob", "probability", "retain", {"field": "perturbed_answer"}),
        MetricEntry("retain_Q_A_ROUGE", "rouge", "retain", dict(rouge)),
        *_rouge_variants("retain", rouge),
        MetricEntry(
            "retain_Truth_Ratio",
            "truth_ratio",
            "retain",
            {"correct": "paraphrased_answer", "wrong": "perturbed_answer", "aggregator": "true_better"},
        ),
        MetricEntry("model_utility", "harmonic_mean", None, {"keys": UTILITY_KEYS}),
        MetricEntry("privleak", "privleak", None, {"mia_key": "mia_min_k"}),
        MetricEntry("extraction_strength", "extraction_strength", "forget", {"field": "answer"}),
        MetricEntry("exact_memorization", "exact_memorization", "forget", {"field": "answer"}),
    ]
    for part in ("ra", "wf"):
        entries += [
            MetricEntry(f"{part}_Q_A_Prob", "probability", part, {"field": "answer"}),
            MetricEntry(
                f"{part}_Q_A_Prob_normalised",
                "probability_normalised",
                part,
                {"correct": "answer", "wrong": "perturbed_answer"},
            ),
            MetricEntry(f"{part}_Q_A_ROUGE", "rouge", part, dict(rouge)),
            MetricEntry(
                f"{part}_Truth_Ratio",
                "truth_ratio",
                part,
                {"correct": "answer", "wrong": "perturbed_answer", "aggregator": "true_better"},
            ),
        ]
    for attack in ("loss", "zlib", "min_k", "min_k_plus_plus", "gradnorm", "reference"):
        args: dict[str, Any] = {"forget": "forget", "holdout": "holdout", "field": "answer"}
        if attack in ("min_k", "min_k_plus_plus"):
            args["k"] = 0.4
        entries.append(MetricEntry(f"mia_{attack}", f"mia_{attack}", None, args))
    return entries


def tofu_suite(data: dict[str, list[dict[str, Any]]], max_new_tokens: int | None = None) -> EvalSuite:
    """The suite for loaded TOFU configs: ``data`` maps forget/retain/ra/wf/holdout to rows."""
    datasets = {name: EvalDataset(name, rows) for name, rows in data.items()}
    entries = {e.key: e for e in _entries(max_new_tokens)}
    return EvalSuite("tofu", datasets, entries, list(DEFAULT_KEYS), list(DEFAULT_KEYS))

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
    """ROUGE of the ``Q_A_ROUGE`` generation (from ``question``) against the paraphrased answer and against each
    perturbed answer (one score per perturbed answer), as the reference defines them (docs/metrics.md)."""
    para = {**rouge, "target": "paraphrased_answer", "draft": "answer"}
    pert = {**rouge, "target": "perturbed_answer", "draft": "answer"}
    return [
        MetricEntry(f"{part}_Q_A_PARA_ROUGE", "rouge", part, para),
        MetricEntry(f"{part}_Q_A_PERT_ROUGE", "rouge", part, pert),
    ]


def _truth_ratio(key: str, part: str, correct: str, aggregator: str) -> MetricEntry:
    """A truth ratio; the probabilities it compares are entries of their own (``precompute``), as in the reference
    result files."""
    correct_key = f"{part}_Q_A_PARA_Prob" if correct == "paraphrased_answer" else f"{part}_Q_A_Prob"
    args = {
        "correct": correct,
        "wrong": "perturbed_answer",
        "aggregator": aggregator,
        "precompute": [correct_key, f"{part}_Q_A_PERT_Prob"],
    }
    return MetricEntry(key, "truth_ratio", part, args)


def _entries(max_new_tokens: int | None, classifier: str | None) -> list[MetricEntry]:
    rouge: dict[str, Any] = {"target": "answer", "rouge_type": "rougeL_recall"}
    if max_new_tokens:
        rouge["max_new_tokens"] = max_new_tokens
    entries = [
        MetricEntry("forget_Q_A_Prob", "probability", "forget", {"field": "answer"}),
        MetricEntry("forget_Q_A_PARA_Prob", "probability", "forget", {"field": "paraphrased_answer"}),
        MetricEntry("forget_Q_A_PERT_Prob", "probability", "forget", {"field": "perturbed_answer"}),
        MetricEntry("forget_Q_A_ROUGE", "rouge", "forget", dict(rouge)),
        *_rouge_variants("forget", rouge),
        _truth_ratio("forget_truth_ratio", "forget", "paraphrased_answer", "closer_to_1_better"),
        MetricEntry("forget_quality", "forget_quality", None, {"truth_ratio_key": "forget_truth_ratio"}),
        MetricEntry("retain_Q_A_Prob", "probability", "retain", {"field": "answer"}),
        MetricEntry("retain_Q_A_PARA_Prob", "probability", "retain", {"field": "paraphrased_answer"}),
        MetricEntry("retain_Q_A_PERT_Prob", "probability", "retain", {"field": "perturbed_answer"}),
        MetricEntry("retain_Q_A_ROUGE", "rouge", "retain", dict(rouge)),
        *_rouge_variants("retain", rouge),
        _truth_ratio("retain_Truth_Ratio", "retain", "paraphrased_answer", "true_better"),
        MetricEntry("model_utility", "harmonic_mean", None, {"keys": UTILITY_KEYS}),
        MetricEntry("privleak", "privleak", None, {"mia_key": "mia_min_k"}),
        MetricEntry("extraction_strength", "extraction_strength", "forget", {"field": "answer"}),
        MetricEntry("exact_memorization", "exact_memorization", "forget", {"field": "answer"}),
        MetricEntry(
            "forget_Q_A_gibberish",
            "classifier_prob",
            None,
            {"precompute": "forget_Q_A_ROUGE", "classifier": classifier, "class_id": 0, "max_length": 32},
        ),
    ]
    for part in ("ra", "wf"):
        entries += [
            MetricEntry(f"{part}_Q_A_Prob", "probability", part, {"field": "answer"}),
            MetricEntry(f"{part}_Q_A_PERT_Prob", "probability", part, {"field": "perturbed_answer"}),
            MetricEntry(
                f"{part}_Q_A_Prob_normalised",
                "probability_normalised",
                part,
                {
                    "correct": "answer",
                    "wrong": "perturbed_answer",
                    "precompute": [f"{part}_Q_A_Prob", f"{part}_Q_A_PERT_Prob"],
                },
            ),
            MetricEntry(f"{part}_Q_A_ROUGE", "rouge", part, dict(rouge)),
            _truth_ratio(f"{part}_Truth_Ratio", part, "answer", "true_better"),
        ]
    for attack in ("loss", "zlib", "min_k", "min_k_plus_plus", "gradnorm", "reference"):
        args: dict[str, Any] = {"forget": "forget", "holdout": "holdout", "field": "answer"}
        if attack in ("min_k", "min_k_plus_plus"):
            args["k"] = 0.4
        entries.append(MetricEntry(f"mia_{attack}", f"mia_{attack}", None, args))
    return entries


def tofu_suite(
    data: dict[str, list[dict[str, Any]]], max_new_tokens: int | None = None, classifier: str | None = None
) -> EvalSuite:
    """The suite for loaded TOFU configs: ``data`` maps forget/retain/ra/wf/holdout to rows; ``classifier`` is the
    gibberish detector of ``forget_Q_A_gibberish``."""
    datasets = {name: EvalDataset(name, rows) for name, rows in data.items()}
    entries = {e.key: e for e in _entries(max_new_tokens, classifier)}
    return EvalSuite("tofu", datasets, entries, list(DEFAULT_KEYS), list(DEFAULT_KEYS))

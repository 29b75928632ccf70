"""TOFU's evaluation: data sets (forget, retain, real authors, world facts, holdout) and metric entries, with the
reference's keys."""

from __future__ import annotations

from typing import Any

from unlearn_core import EvalDataset, EvalSuite, MetricEntry, entries

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


def _authors(part: str, rouge: dict[str, Any]) -> list[MetricEntry]:
    """forget or retain: probabilities of the answer, paraphrase and perturbations, ROUGE against each, the truth
    ratio (paraphrase against perturbations)."""
    prob, para, pert = f"{part}_Q_A_Prob", f"{part}_Q_A_PARA_Prob", f"{part}_Q_A_PERT_Prob"
    aggregator = "closer_to_1_better" if part == "forget" else "true_better"
    return [
        entries.probability(prob, part),
        entries.probability(para, part, "paraphrased_answer"),
        entries.probability(pert, part, "perturbed_answer"),
        entries.rouge(f"{part}_Q_A_ROUGE", part, **rouge),
        # generated from the question (the same generation), scored against the paraphrase / each perturbation
        entries.rouge(f"{part}_Q_A_PARA_ROUGE", part, **{**rouge, "target": "paraphrased_answer", "draft": "answer"}),
        entries.rouge(f"{part}_Q_A_PERT_ROUGE", part, **{**rouge, "target": "perturbed_answer", "draft": "answer"}),
        entries.truth_ratio(
            "forget_truth_ratio" if part == "forget" else "retain_Truth_Ratio",
            part,
            "paraphrased_answer",
            aggregator,
            precompute=(para, pert),
        ),
    ]


def _facts(part: str, rouge: dict[str, Any]) -> list[MetricEntry]:
    """ra or wf: probability of the answer and of its perturbations, normalised probability, ROUGE, truth ratio."""
    prob, pert = f"{part}_Q_A_Prob", f"{part}_Q_A_PERT_Prob"
    return [
        entries.probability(prob, part),
        entries.probability(pert, part, "perturbed_answer"),
        entries.probability_normalised(f"{part}_Q_A_Prob_normalised", part, precompute=(prob, pert)),
        entries.rouge(f"{part}_Q_A_ROUGE", part, **rouge),
        entries.truth_ratio(f"{part}_Truth_Ratio", part, "answer", "true_better", precompute=(prob, pert)),
    ]


def _entries(max_new_tokens: int | None, classifier: str | None) -> list[MetricEntry]:
    rouge: dict[str, Any] = {"target": "answer", "rouge_type": "rougeL_recall"}
    if max_new_tokens:
        rouge["max_new_tokens"] = max_new_tokens
    return [
        *_authors("forget", rouge),
        *_authors("retain", rouge),
        *_facts("ra", rouge),
        *_facts("wf", rouge),
        entries.forget_quality(),
        entries.harmonic_mean("model_utility", UTILITY_KEYS),
        entries.privleak(),
        entries.extraction_strength("extraction_strength", "forget"),
        entries.exact_memorization("exact_memorization", "forget"),
        *entries.mia_attacks("forget", "holdout", field="answer"),
        entries.classifier_prob("forget_Q_A_gibberish", "forget_Q_A_ROUGE", classifier, max_length=32),
    ]


def metric_entries(max_new_tokens: int | None = None, classifier: str | None = None) -> list[MetricEntry]:
    """Every TOFU entry: the reference's keys; ``classifier`` is the gibberish detector of ``forget_Q_A_gibberish``."""
    return _entries(max_new_tokens, classifier)


def tofu_suite(
    data: dict[str, list[dict[str, Any]]], max_new_tokens: int | None = None, classifier: str | None = None
) -> EvalSuite:
    """The suite for loaded TOFU configs: ``data`` maps forget/retain/ra/wf/holdout to rows (for tests and tools
    that hold rows already; the benchmark builds the same from its declarations)."""
    datasets = {name: EvalDataset(name, rows) for name, rows in data.items()}
    by_key = {e.key: e for e in _entries(max_new_tokens, classifier)}
    return EvalSuite("tofu", datasets, by_key, list(DEFAULT_KEYS))

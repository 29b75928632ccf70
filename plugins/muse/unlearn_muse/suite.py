"""MUSE's evaluation (METRICS.md): verbatim memorisation, knowledge memorisation and privacy leakage."""

from __future__ import annotations

from typing import Any

from unlearn_core.evaluation.suite import EvalDataset, EvalSuite, MetricEntry

DEFAULT_KEYS = [
    "forget_knowmem_ROUGE",
    "retain_knowmem_ROUGE",
    "forget_verbmem_ROUGE",
    "privleak",
    "extraction_strength",
]
TABLE_COLUMNS = ["forget_verbmem_ROUGE", "forget_knowmem_ROUGE", "retain_knowmem_ROUGE", "privleak"]
ALIASES = {
    "verbmem_f": "forget_verbmem_ROUGE",
    "knowmem_f": "forget_knowmem_ROUGE",
    "knowmem_r": "retain_knowmem_ROUGE",
}
"""The MUSE paper's short names (C1, C2, C4): accepted by ``eval.metrics`` and shown in tables."""
REFERENCE_KEYS = ["mia_min_k"]
"""What ``privleak`` reads from the retain model's logs (its MIA AUC)."""
VERBMEM_MAX_NEW_TOKENS = 128
EMBEDDED_VERBMEM_MAX_NEW_TOKENS = 64
"""The embedded corpus's continuations hold 50 to 65 tokens: a property of the data, whatever model reads it."""
KNOWMEM_MAX_NEW_TOKENS = 32
KNOWMEM_STOP = ("\n\n", "\nQuestion", "Question:")
MIA_ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus", "gradnorm", "reference")
MIA_K = 0.4


def _datasets(data: dict[str, list[dict[str, Any]]]) -> dict[str, EvalDataset]:
    def shots(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(row["question"], row["answer"]) for row in rows]

    return {
        "verbmem_forget": EvalDataset(
            "verbmem_forget", data["verbmem_forget"], question_field="prompt", kind="text", insert_space=True
        ),
        "knowmem_forget": EvalDataset(
            "knowmem_forget", data["knowmem_forget_qa"], few_shot=shots(data["knowmem_forget_qa_icl"])
        ),
        "knowmem_retain": EvalDataset(
            "knowmem_retain", data["knowmem_retain_qa"], few_shot=shots(data["knowmem_retain_qa_icl"])
        ),
        "privleak_forget": EvalDataset("privleak_forget", data["privleak_forget"], question_field="text", kind="text"),
        "privleak_holdout": EvalDataset(
            "privleak_holdout", data["privleak_holdout"], question_field="text", kind="text"
        ),
    }


def _entries(verbmem_max_new_tokens: int, classifier: str | None) -> list[MetricEntry]:
    knowmem = {
        "target": "answer",
        "rouge_type": "rougeL_f1",
        "max_new_tokens": KNOWMEM_MAX_NEW_TOKENS,
        "stop": list(KNOWMEM_STOP),
    }
    entries = [
        MetricEntry(
            "forget_verbmem_ROUGE",
            "rouge",
            "verbmem_forget",
            {"target": "gt", "rouge_type": "rougeL_f1", "max_new_tokens": verbmem_max_new_tokens},
        ),
        MetricEntry("forget_knowmem_ROUGE", "rouge", "knowmem_forget", dict(knowmem)),
        MetricEntry("retain_knowmem_ROUGE", "rouge", "knowmem_retain", dict(knowmem)),
        MetricEntry("privleak", "privleak", None, {"mia_key": "mia_min_k"}),
        MetricEntry("extraction_strength", "extraction_strength", "verbmem_forget", {"field": "gt"}),
        MetricEntry("exact_memorization", "exact_memorization", "verbmem_forget", {"field": "gt"}),
        MetricEntry(
            "forget_gibberish",
            "classifier_prob",
            None,
            {"precompute": "forget_verbmem_ROUGE", "classifier": classifier, "class_id": 0, "max_length": 512},
        ),
    ]
    for attack in MIA_ATTACKS:
        args: dict[str, Any] = {"forget": "privleak_forget", "holdout": "privleak_holdout", "field": "text"}
        if attack in ("min_k", "min_k_plus_plus"):
            args["k"] = MIA_K
        entries.append(MetricEntry(f"mia_{attack}", f"mia_{attack}", None, args))
    return entries


def muse_suite(
    data: dict[str, list[dict[str, Any]]],
    verbmem_max_new_tokens: int = VERBMEM_MAX_NEW_TOKENS,
    classifier: str | None = None,
) -> EvalSuite:
    """The suite for loaded MUSE splits, keyed ``<subset>_<split>`` (verbmem_forget, knowmem_forget_qa, ...);
    ``classifier`` is the gibberish detector of ``forget_gibberish``."""
    entries = {e.key: e for e in _entries(verbmem_max_new_tokens, classifier)}
    return EvalSuite("muse", _datasets(data), entries, list(DEFAULT_KEYS), list(DEFAULT_KEYS), aliases=dict(ALIASES))


EVAL_SPLITS: tuple[tuple[str, str], ...] = (
    ("verbmem", "forget"),
    ("knowmem", "forget_qa"),
    ("knowmem", "retain_qa"),
    ("knowmem", "forget_qa_icl"),
    ("knowmem", "retain_qa_icl"),
    ("privleak", "forget"),
    ("privleak", "holdout"),
)
"""The (subset, split) pairs an evaluation reads."""

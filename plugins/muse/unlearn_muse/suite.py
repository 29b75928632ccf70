"""MUSE's evaluation (METRICS.md): verbatim memorisation, knowledge memorisation and privacy leakage."""

from __future__ import annotations

from typing import Any

from unlearn_core import EvalDataset, EvalSuite, MetricEntry, entries

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
VERBMEM_MAX_NEW_TOKENS = 128
EMBEDDED_VERBMEM_MAX_NEW_TOKENS = 64
"""The embedded corpus's continuations hold 50 to 65 tokens: a property of the data, whatever model reads it."""
KNOWMEM_MAX_NEW_TOKENS = 32
KNOWMEM_STOP = ("\n\n", "\nQuestion", "Question:")
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
    knowmem: dict[str, Any] = {
        "target": "answer",
        "rouge_type": "rougeL_f1",
        "max_new_tokens": KNOWMEM_MAX_NEW_TOKENS,
        "stop": KNOWMEM_STOP,
    }
    verbmem = {"target": "gt", "rouge_type": "rougeL_f1", "max_new_tokens": verbmem_max_new_tokens}
    return [
        entries.rouge("forget_verbmem_ROUGE", "verbmem_forget", **verbmem),
        entries.rouge("forget_knowmem_ROUGE", "knowmem_forget", **knowmem),
        entries.rouge("retain_knowmem_ROUGE", "knowmem_retain", **knowmem),
        entries.privleak(),
        entries.extraction_strength("extraction_strength", "verbmem_forget", "gt"),
        entries.exact_memorization("exact_memorization", "verbmem_forget", "gt"),
        entries.classifier_prob("forget_gibberish", "forget_verbmem_ROUGE", classifier, max_length=512),
        *entries.mia_attacks("privleak_forget", "privleak_holdout", field="text", k=MIA_K),
    ]


def metric_entries(
    verbmem_max_new_tokens: int = VERBMEM_MAX_NEW_TOKENS, classifier: str | None = None
) -> list[MetricEntry]:
    """Every MUSE entry, with the reference's keys."""
    return _entries(verbmem_max_new_tokens, classifier)


def muse_suite(
    data: dict[str, list[dict[str, Any]]],
    verbmem_max_new_tokens: int = VERBMEM_MAX_NEW_TOKENS,
    classifier: str | None = None,
) -> EvalSuite:
    """The suite for loaded MUSE splits, keyed ``<subset>_<split>`` (verbmem_forget, knowmem_forget_qa, ...), for
    tests and tools that hold rows already (the benchmark builds the same from its declarations); ``classifier``
    is the gibberish detector of ``forget_gibberish``."""
    by_key = {e.key: e for e in _entries(verbmem_max_new_tokens, classifier)}
    return EvalSuite("muse", _datasets(data), by_key, list(DEFAULT_KEYS), aliases=dict(ALIASES))

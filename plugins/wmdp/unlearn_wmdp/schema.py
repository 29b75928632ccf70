"""WMDP's files: split addresses, the fields of their rows, where the hub keeps them, and the subjects' names.

A directory source holds ``<split>-forget-corpus.jsonl`` and ``<split>-retain-corpus.jsonl`` (``text``),
``wmdp-<split>.jsonl`` (``question``, ``choices``, ``answer`` as the index of the right choice) and ``mmlu.jsonl``
(the same fields and ``subject``), with the hub data sets' field names.
"""

from __future__ import annotations

DATA_SPLITS: tuple[str, ...] = ("cyber", "bio")
SUBJECTS = {"cyber": "cybersecurity", "bio": "biology"}
"""The subject each WMDP question set's prompt names (lm-evaluation-harness's ``wmdp_*`` descriptions)."""
MMLU = "mmlu"
HUB_SOURCE = "cais/wmdp"
"""``data.source`` value for the hub: questions from ``cais/wmdp``, MMLU from ``cais/mmlu``, corpora from
``cais/wmdp-corpora`` (the bio forget corpus is not published there: the WMDP authors share it on request)."""

CORPUS_FIELDS: dict[str, type] = {"text": str}
QUESTION_FIELDS: dict[str, type] = {"question": str, "choices": list, "answer": int}
MMLU_FIELDS: dict[str, type] = {**QUESTION_FIELDS, "subject": str}


def forget_corpus(split: str) -> str:
    """Address of a split's forget corpus."""
    return f"{split}-forget-corpus"


def retain_corpus(split: str) -> str:
    """Address of a split's retain corpus."""
    return f"{split}-retain-corpus"


def questions(split: str) -> str:
    """Address of a split's WMDP questions."""
    return f"wmdp-{split}"


ADDRESSES: tuple[str, ...] = (
    *(f(split) for split in DATA_SPLITS for f in (forget_corpus, retain_corpus, questions)),
    MMLU,
)


def fields(address: str) -> dict[str, type]:
    """What every row of ``address`` must have."""
    if address == MMLU:
        return MMLU_FIELDS
    return QUESTION_FIELDS if address.startswith("wmdp-") else CORPUS_FIELDS


def hub_location(address: str) -> tuple[str, str, str]:
    """(hub id, configuration, split) of ``address`` on the hub."""
    if address == MMLU:
        return "cais/mmlu", "all", "test"
    if address.startswith("wmdp-"):
        return HUB_SOURCE, address, "test"
    return "cais/wmdp-corpora", address, "train"

"""Embedded synthetic MUSE: every hub subset and split, generated from a seed with no download (DATASETS.md).

``data_split=News`` writes short news articles about fictitious events, ``Books`` passages of fictitious novels.
Each document mentions names no other document uses, so its facts have one answer. Roles: ``forget`` (unlearned),
``retain1`` and ``retain2`` (kept), ``holdout`` (never trained on: the non-members of the privacy-leak attack) and
``background`` (what the embedded base model learns first, with questions about it, so it knows the question
format before it meets the benchmark's documents).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from unlearn_muse.embedded_books import book_passage
from unlearn_muse.embedded_document import Document
from unlearn_muse.embedded_names import NameBook
from unlearn_muse.embedded_news import news_article
from unlearn_muse.schema import DATA_SPLITS, STEP_SPLITS

EMBEDDED_DEFAULTS: dict[str, int] = {
    "seed": 0,
    "n_forget": 32,
    "n_retain": 24,
    "n_holdout": 32,
    "n_background": 16,
    "qa_per_doc": 1,
}
N_ICL = 3
"""Few-shot question/answer pairs in each ``*_qa_icl`` split."""
ROLES: tuple[str, ...] = ("forget", "retain1", "retain2", "holdout", "background")
_WRITERS = {"News": news_article, "Books": book_passage}


@dataclass(frozen=True)
class Corpus:
    """The generated documents of one embedded MUSE data split, by role."""

    data_split: str
    documents: dict[str, tuple[Document, ...]]


def check_args(data_split: str, args: dict[str, int]) -> None:
    """Raise ValueError naming the first argument out of range."""
    if data_split not in DATA_SPLITS:
        raise ValueError(f"data_split must be one of {', '.join(DATA_SPLITS)}, got {data_split!r}")
    if args["n_forget"] < len(STEP_SPLITS):
        raise ValueError(
            f"n_forget must be at least {len(STEP_SPLITS)} (one document per step), got {args['n_forget']}"
        )
    if args["n_forget"] < N_ICL + 1 or args["n_retain"] < N_ICL + 1:
        raise ValueError(f"n_forget and n_retain must be at least {N_ICL + 1}")
    for name in ("n_holdout", "n_background"):
        if args[name] < 1:
            raise ValueError(f"{name} must be at least 1, got {args[name]}")
    if not 1 <= args["qa_per_doc"] <= 3:
        raise ValueError(f"qa_per_doc must be between 1 and 3, got {args['qa_per_doc']}")


@functools.lru_cache(maxsize=8)
def build_corpus(
    data_split: str = "News",
    seed: int = 0,
    n_forget: int = 32,
    n_retain: int = 24,
    n_holdout: int = 32,
    n_background: int = 16,
    qa_per_doc: int = 1,
) -> Corpus:
    """Documents of every role; deterministic given the arguments (cached: treat the result as read-only)."""
    given = {"n_forget": n_forget, "n_retain": n_retain, "n_holdout": n_holdout, "n_background": n_background}
    check_args(data_split, {**given, "qa_per_doc": qa_per_doc})
    sizes = {"forget": n_forget, "retain1": n_retain, "retain2": n_retain, "holdout": n_holdout}
    sizes["background"] = n_background
    names = NameBook(random.Random(f"muse-embedded:{data_split}:{seed}:names"))
    write = _WRITERS[data_split]
    documents = {}
    for role in ROLES:
        rng = random.Random(f"muse-embedded:{data_split}:{seed}:{role}")
        documents[role] = tuple(write(rng, names) for _ in range(sizes[role]))
    return Corpus(data_split, documents)


def _qa_rows(docs: tuple[Document, ...], per_doc: int) -> tuple[list[dict], list[dict]]:
    """Evaluation questions (``per_doc`` facts per document, rotating) and few-shot ones (facts not evaluated)."""
    rows, icl = [], []
    for i, doc in enumerate(docs):
        picked = [(i * per_doc + j) % len(doc.qa) for j in range(per_doc)]
        rows += [{"question": doc.qa[k][0], "answer": doc.qa[k][1]} for k in picked]
        if i < N_ICL:
            q, a = doc.qa[(i * per_doc + per_doc) % len(doc.qa)]
            icl.append({"question": q, "answer": a})
    return rows, icl


def _quarters(n: int) -> list[tuple[int, int]]:
    bounds = [round(k * n / len(STEP_SPLITS)) for k in range(len(STEP_SPLITS) + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def muse_subsets(corpus: Corpus, qa_per_doc: int = 1) -> dict[str, dict[str, list[dict]]]:
    """Every MUSE subset and split of ``corpus`` with the hub's field names."""
    docs = corpus.documents

    def text(role: str) -> list[dict]:
        return [{"text": d.text} for d in docs[role]]

    forget_qa, forget_icl = _qa_rows(docs["forget"], qa_per_doc)
    retain_qa, retain_icl = _qa_rows(docs["retain1"], qa_per_doc)
    forget = text("forget")
    quarters = _quarters(len(forget))
    return {
        "raw": {role: text(role) for role in ("forget", "retain1", "retain2", "holdout")},
        "verbmem": {"forget": [d.verbmem_row() for d in docs["forget"]]},
        "knowmem": {
            "forget_qa": forget_qa,
            "retain_qa": retain_qa,
            "forget_qa_icl": forget_icl,
            "retain_qa_icl": retain_icl,
        },
        "privleak": {"forget": forget, "retain": text("retain1"), "holdout": text("holdout")},
        "scal": {split: forget[:end] for split, (_, end) in zip(STEP_SPLITS, quarters)},
        "sust": {split: forget[start:end] for split, (start, end) in zip(STEP_SPLITS, quarters)},
        "train": {role: text(role) for role in ("forget", "retain1", "retain2")},
    }


def generate_muse(data_split: str = "News", **args: int) -> dict[str, dict[str, list[dict]]]:
    """Every subset and split of the embedded MUSE ``data_split`` (fresh rows; arguments as ``EMBEDDED_DEFAULTS``)."""
    full = {**EMBEDDED_DEFAULTS, **args}
    corpus = build_corpus(data_split, **full)
    subsets = muse_subsets(corpus, full["qa_per_doc"])
    return {
        subset: {split: [dict(r) for r in rows] for split, rows in splits.items()} for subset, splits in subsets.items()
    }


def background_rows(data_split: str = "News", **args: int) -> tuple[list[str], list[tuple[str, str]]]:
    """What the embedded base model learns: background texts and every question about them."""
    corpus = build_corpus(data_split, **{**EMBEDDED_DEFAULTS, **args})
    docs = corpus.documents["background"]
    return [d.text for d in docs], [qa for d in docs for qa in d.qa]


def facts_of(data_split: str, texts: list[str], **args: int) -> set[tuple[str, str]]:
    """Every (question, answer) pair about the embedded documents whose text is in ``texts``."""
    corpus = build_corpus(data_split, **{**EMBEDDED_DEFAULTS, **args})
    wanted = set(texts)
    return {qa for docs in corpus.documents.values() for d in docs if d.text in wanted for qa in d.qa}

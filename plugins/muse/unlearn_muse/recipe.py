"""MUSE's embedded models: the recipe (tokenizer, base, target, retain) and the question drills a tiny model needs.

A model this small does not learn to answer questions about facts it has only read in prose, so every document the
embedded models train on comes with drills on its facts (``embedded_training.question_drills``): the finetuning
rows, and the forget and retain sets of an unlearning run on embedded data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import cycle, islice
from typing import Any

from unlearn_core import EmbeddedRecipe, require_embedded_source
from unlearn_core.data import Tokenized, renumber
from unlearn_core.token_rules import PromptTemplate
from unlearn_muse import embedded
from unlearn_muse.config import EMBEDDED_BASE_ARGS, EMBEDDED_FINETUNE_ARGS, RECIPE_KEYS
from unlearn_muse.embedded import N_ICL
from unlearn_muse.embedded_training import question_drills
from unlearn_muse.sources import EMBEDDED_SOURCE, STORE

EMBEDDED_VERSION = 1
"""Part of the embedded models' cache key: bump it when the generated corpus or the drills change."""
DRILL_REPEATS = 2
"""Passes over the embedded question drills per finetuning epoch (one over the documents)."""
Rows = Callable[[str], list[dict[str, Any]]]


def generator_args(cfg: dict[str, Any]) -> dict[str, int]:
    """The embedded corpus's arguments (``data.embedded`` without the model's training keys)."""
    return STORE.embedded_args({k: v for k, v in cfg["data"]["embedded"].items() if k not in RECIPE_KEYS})


def drills(
    cfg: dict[str, Any], rows: Rows, template: PromptTemplate, role: str, addresses: list[str]
) -> list[Tokenized]:
    """Embedded data only: drills on the knowmem ``{role}_qa`` and few-shot facts of the documents at ``addresses``."""
    if cfg["data"]["source"] != EMBEDDED_SOURCE or not addresses:
        return []
    texts = [row["text"] for address in addresses for row in rows(address)]
    facts = embedded.facts_of(cfg["data_split"], texts, **generator_args(cfg))
    shots = _pairs(rows(f"knowmem/{role}_qa_icl"))
    pairs = [p for p in _pairs(rows(f"knowmem/{role}_qa")) + shots if p in facts]
    return question_drills(template, pairs, shots, f"{cfg['data_split']}:{role}")


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["question"], r["answer"]) for r in rows]


def finetune_rows(cfg: dict[str, Any], rows: Rows, template: PromptTemplate) -> list[Tokenized]:
    """The embedded models' finetuning rows: every document of ``train/forget`` (target only), ``retain1`` and
    ``retain2`` in one chunk each, then the drills ``DRILL_REPEATS`` times; the retain model goes through its rows
    as often as it takes to train for as many steps as the target (a tiny model given fewer steps learns even its
    own facts much worse)."""
    own = _documents_and_drills(cfg, rows, template, with_forget=cfg["data"].get("train") != "retain")
    if cfg["data"].get("train") != "retain":
        return own
    wanted = len(_documents_and_drills(cfg, rows, template, with_forget=True))
    return renumber(list(islice(cycle(own), wanted)))


def _documents_and_drills(
    cfg: dict[str, Any], rows: Rows, template: PromptTemplate, *, with_forget: bool
) -> list[Tokenized]:
    forget, retain = ["train/forget"], ["train/retain1", "train/retain2"]
    out: list[Tokenized] = []
    for address in forget + retain if with_forget else retain:
        for row in rows(address):
            out += template.text_chunks(row["text"], start_index=len(out))
    for _ in range(DRILL_REPEATS):
        if with_forget:
            out += drills(cfg, rows, template, "forget", forget)
        out += drills(cfg, rows, template, "retain", retain[:1])
    return renumber(out)


def embedded_recipe(cfg: dict[str, Any]) -> EmbeddedRecipe:
    """Tokenizer on every embedded text; base model on background documents and questions; then target/retain."""
    require_embedded_source(cfg)
    split, args = cfg["data_split"], generator_args(cfg)

    def corpus() -> Iterator[str]:
        for docs in embedded.build_corpus(split, **args).documents.values():
            for doc in docs:
                yield doc.text
                for question, answer in doc.qa:
                    yield f"Question: {question}\nAnswer:{answer}"

    def base_rows(template: PromptTemplate) -> list[Tokenized]:
        texts, qa = embedded.background_rows(split, **args)
        rows: list[Tokenized] = []
        for text in texts:
            rows += template.text_chunks(text, start_index=len(rows))
        return renumber(rows + question_drills(template, qa, qa[:N_ICL], f"{split}:background"))

    recipe = {**RECIPE_KEYS, **{k: v for k, v in cfg["data"]["embedded"].items() if k in RECIPE_KEYS}}
    return EmbeddedRecipe(
        key={"muse": {"data_split": split, **args}, "version": EMBEDDED_VERSION},
        tokenizer_corpus=corpus,
        base_rows=base_rows,
        replay=False,
        base_args={**EMBEDDED_BASE_ARGS, "num_train_epochs": recipe["base_epochs"]},
        finetune_args={**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": recipe["finetune_epochs"]},
    )

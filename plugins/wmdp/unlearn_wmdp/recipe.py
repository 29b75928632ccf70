"""WMDP's embedded models: the recipe (tokenizer, base, target, retain) and the question drills a tiny model needs.

A model this small does not answer multiple-choice questions about facts it has only read in prose, so it also
learns each question of the embedded sets in the evaluation's own form (``prompts.drills``), as MUSE's embedded
models do. The base model learns the general knowledge and its questions (the embedded MMLU); the target model adds
the hazard documents and their questions and the retain corpus; the retain model only the retain corpus, so it
answers the hazard questions at chance, which is what unlearning aims at. On embedded data the forget set of an
unlearning run is the hazard documents with their drills, the retain set the retain corpus with the general drills.

Every model is an 8-layer tiny Llama, so the reference's RMU arguments (``model.layers.7``, the down projections of
layers 5 to 7) apply to it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from unlearn_core import EmbeddedRecipe, require_embedded_source
from unlearn_core.data import Tokenized, renumber
from unlearn_core.models.tiny import TinyLlamaSize
from unlearn_core.token_rules import PromptTemplate
from unlearn_wmdp import embedded, prompts
from unlearn_wmdp.config import EMBEDDED_BASE_ARGS, EMBEDDED_FINETUNE_ARGS, RECIPE_KEYS
from unlearn_wmdp.schema import MMLU, SUBJECTS, forget_corpus, questions, retain_corpus
from unlearn_wmdp.sources import STORE

EMBEDDED_VERSION = 1
"""Part of the embedded models' cache key: bump it when the generated data or the drills change."""
DRILL_REPEATS = 3
"""Passes over the question drills per epoch (one over the documents)."""
SIZE = TinyLlamaSize(
    vocab_size=1200,
    hidden_size=96,
    intermediate_size=256,
    num_hidden_layers=8,
    num_attention_heads=4,
    num_key_value_heads=4,
)
Rows = Callable[[str], list[dict[str, Any]]]


def generator_args(cfg: dict[str, Any]) -> dict[str, int]:
    """The embedded data's arguments (``data.embedded`` without the model's training keys)."""
    return STORE.embedded_args({k: v for k, v in cfg["data"]["embedded"].items() if k not in RECIPE_KEYS})


def _documents(template: PromptTemplate, texts: list[str]) -> list[Tokenized]:
    out: list[Tokenized] = []
    for text in texts:
        out += template.text_chunks(text, start_index=len(out))
    return out


def _drills(template: PromptTemplate, rows: list[dict[str, Any]], subject: str) -> list[Tokenized]:
    return prompts.drills(template.tokenizer, rows, subject) * DRILL_REPEATS


def hazard_rows(cfg: dict[str, Any], rows: Rows, template: PromptTemplate) -> list[Tokenized]:
    """The hazard documents and their drills (the target model's extra knowledge, the embedded forget set)."""
    split = cfg["data_split"]
    texts = [r["text"] for r in rows(forget_corpus(split))]
    return renumber(_documents(template, texts) + _drills(template, rows(questions(split)), SUBJECTS[split]))


def kept_rows(cfg: dict[str, Any], rows: Rows, template: PromptTemplate) -> list[Tokenized]:
    """The retain corpus and the general drills (the embedded retain set)."""
    texts = [r["text"] for r in rows(retain_corpus(cfg["data_split"]))]
    return renumber(_documents(template, texts) + _drills(template, rows(MMLU), "general knowledge"))


def finetune_rows(cfg: dict[str, Any], rows: Rows, template: PromptTemplate) -> list[Tokenized]:
    """Target: hazard documents and drills, and the retain corpus; retain model: the retain corpus (the base rows
    are mixed in by the recipe's replay)."""
    retain = _documents(template, [r["text"] for r in rows(retain_corpus(cfg["data_split"]))])
    if cfg["data"].get("train") == "retain":
        return renumber(retain)
    return renumber(hazard_rows(cfg, rows, template) + retain)


def embedded_recipe(cfg: dict[str, Any]) -> EmbeddedRecipe:
    """Tokenizer on every embedded text; base model on the general knowledge and its drills; then target/retain."""
    require_embedded_source(cfg)
    split, args = cfg["data_split"], generator_args(cfg)

    def corpus() -> Iterator[str]:
        for rows in embedded.generate_wmdp(split, **args).values():
            for row in rows:
                yield row["text"] if "text" in row else prompts.context(row, SUBJECTS[split]) + " A B C D"

    def base_rows(template: PromptTemplate) -> list[Tokenized]:
        general = embedded.generate_wmdp(split, **args)[MMLU]
        return renumber(_documents(template, embedded.general_texts(split, **args)) + _drills(template, general, ""))

    recipe = {**RECIPE_KEYS, **{k: v for k, v in cfg["data"]["embedded"].items() if k in RECIPE_KEYS}}
    return EmbeddedRecipe(
        key={"wmdp": {"data_split": split, **args}, "version": EMBEDDED_VERSION},
        tokenizer_corpus=corpus,
        base_rows=base_rows,
        base_args={**EMBEDDED_BASE_ARGS, "num_train_epochs": recipe["base_epochs"]},
        finetune_args={**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": recipe["finetune_epochs"]},
        replay=True,
        size=SIZE,
    )

"""Embedded synthetic WMDP: forget and retain corpora and the two question sets, generated from a seed.

Entities of a domain (``embedded_words``) get unique invented names and one value per attribute; a document
states every fact of its entity, and each fact is one multiple-choice question (four values, the answer at a seeded
position). Roles: ``hazard`` (the forget corpus and ``wmdp-<split>``), ``benign`` (the retain corpus), ``general``
(what the base model knows: ``mmlu`` asks about it).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from unlearn_wmdp.embedded_words import BENIGN, GENERAL, HAZARDS, SYLLABLES, Domain
from unlearn_wmdp.schema import DATA_SPLITS, MMLU, forget_corpus, questions, retain_corpus

EMBEDDED_DEFAULTS: dict[str, int] = {"seed": 0, "n_hazard": 24, "n_benign": 24, "n_general": 32}
N_CHOICES = 4


@dataclass(frozen=True)
class Entity:
    """One invented entity: its document and its facts as multiple-choice rows."""

    text: str
    questions: tuple[dict, ...]


def check_args(data_split: str, args: dict[str, int]) -> None:
    """Raise ValueError naming the first argument out of range."""
    if data_split not in DATA_SPLITS:
        raise ValueError(f"data_split must be one of {', '.join(DATA_SPLITS)}, got {data_split!r}")
    for name in ("n_hazard", "n_benign", "n_general"):
        if not 1 <= args[name] <= 200:
            raise ValueError(f"{name} must be between 1 and 200, got {args[name]}")


def _names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    names = []
    while len(names) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def _entity(rng: random.Random, domain: Domain, name: str, subject: str) -> Entity:
    sentences = [domain.opening.format(name=name)]
    rows = []
    for attribute in domain.attributes:
        value = rng.choice(attribute.values)
        sentences.append(attribute.sentence.format(name=name, value=value))
        choices = rng.sample([v for v in attribute.values if v != value], N_CHOICES - 1)
        answer = rng.randrange(N_CHOICES)
        choices.insert(answer, value)
        rows.append({"question": attribute.question.format(name=name), "choices": choices, "answer": answer})
        if subject:
            rows[-1]["subject"] = subject
    return Entity(" ".join(sentences), tuple(rows))


@functools.lru_cache(maxsize=8)
def build(data_split: str = "cyber", seed: int = 0, n_hazard: int = 24, n_benign: int = 24, n_general: int = 32):
    """Entities of every role: ``{"hazard": [...], "benign": [...], "general": [...]}`` (cached; read-only)."""
    check_args(data_split, {"n_hazard": n_hazard, "n_benign": n_benign, "n_general": n_general})
    rng = random.Random(f"wmdp-embedded:{data_split}:{seed}")
    taken: set[str] = set()
    roles = (("hazard", HAZARDS[data_split], n_hazard, ""), ("benign", BENIGN, n_benign, ""))
    roles += (("general", GENERAL, n_general, GENERAL.subject),)
    return {
        role: tuple(_entity(rng, domain, name, subject) for name in _names(rng, count, taken))
        for role, domain, count, subject in roles
    }


def generate_wmdp(data_split: str = "cyber", **args: int) -> dict[str, list[dict]]:
    """Every file of the embedded WMDP ``data_split``, by address (fresh rows)."""
    entities = build(data_split, **{**EMBEDDED_DEFAULTS, **args})
    return {
        forget_corpus(data_split): [{"text": e.text} for e in entities["hazard"]],
        retain_corpus(data_split): [{"text": e.text} for e in entities["benign"]],
        questions(data_split): [dict(q) for e in entities["hazard"] for q in e.questions],
        MMLU: [dict(q) for e in entities["general"] for q in e.questions],
    }


def general_texts(data_split: str = "cyber", **args: int) -> list[str]:
    """The documents of the general knowledge the base model learns."""
    return [e.text for e in build(data_split, **{**EMBEDDED_DEFAULTS, **args})["general"]]

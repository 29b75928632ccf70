"""Question drills: what the embedded tiny model learns besides the prose, so that knowmem can ask it anything."""

from __future__ import annotations

import random
from collections.abc import Sequence

from unlearn_core.data import Tokenized
from unlearn_core.token_rules import PromptTemplate

QA = tuple[str, str]
SHOT_SHARE = 1.0
"""Share of the drills asked after the few-shot turns (the same drill always gets the same form)."""


def question_drills(
    template: PromptTemplate, pairs: Sequence[QA], shots: Sequence[QA], seed: str, start_index: int = 0
) -> list[Tokenized]:
    """One row per (question, answer) with the answer as target, ``SHOT_SHARE`` of them after the ``shots`` turns.

    knowmem asks its questions after few-shot turns. A tiny model that learned a fact only in prose, or only as a
    question at the start of a sequence, answers nothing sensible there; one that saw both forms does.
    """
    rows = []
    for i, (question, answer) in enumerate(pairs):
        with_shots = random.Random(f"muse-drills:{seed}:{question}").random() < SHOT_SHARE
        context = [s for s in shots if s != (question, answer)] if with_shots else []
        rows.append(template.qa(question, answer, start_index + i, context))
    return rows

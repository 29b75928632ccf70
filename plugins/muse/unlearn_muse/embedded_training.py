"""Question drills: what the embedded tiny model learns besides the prose, so that knowmem can ask it anything."""

from __future__ import annotations

import random
from collections.abc import Sequence

from unlearn_core.data import PromptTemplate, Tokenized

QA = tuple[str, str]


def question_drills(
    template: PromptTemplate, pairs: Sequence[QA], shots: Sequence[QA], seed: str, start_index: int = 0
) -> list[Tokenized]:
    """One row per (question, answer) with the answer as target; half of them after the ``shots`` turns.

    knowmem asks its questions after few-shot turns. A tiny model that learned a fact only in prose, or only as a
    question at the start of a sequence, answers nothing sensible there; one that saw both forms does.
    """
    rng = random.Random(f"muse-drills:{seed}")
    rows = []
    for i, (question, answer) in enumerate(pairs):
        context = [s for s in shots if s != (question, answer)] if rng.random() < 0.5 else []
        rows.append(template.qa(question, answer, start_index + i, context))
    return rows

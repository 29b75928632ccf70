"""The multiple-choice prompt of lm-evaluation-harness's ``wmdp_*`` and ``mmlu_*`` tasks, and drills in that form.

A question is asked as the task's description, the question, the four lettered choices and ``Answer:``; each choice
is scored as the continuation ``" A"`` ... ``" D"`` (``unlearn_core.choice_tokens`` builds the token ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from unlearn_core.choice_tokens import choice_sequences
from unlearn_core.data import Tokenized
from unlearn_core.errors import DataError

LABELS: tuple[str, ...] = ("A", "B", "C", "D")
CONTEXT, CHOICE_LABELS = "context", "labels"
"""The fields the evaluation rows get: the prompt, and the labels scored after it."""


def description(subject: str) -> str:
    """The task description that opens every prompt."""
    return f"The following are multiple choice questions (with answers) about {subject}.\n\n"


def subject_of(row: dict[str, Any], default: str) -> str:
    """An MMLU row's subject as its task names it (``high_school_biology`` -> ``high school biology``)."""
    return str(row.get("subject") or default).replace("_", " ")


def context(row: dict[str, Any], subject: str) -> str:
    """The prompt of one question, up to ``Answer:``."""
    lettered = "".join(f"{label}. {choice}\n" for label, choice in zip(LABELS, row["choices"]))
    return f"{description(subject)}{row['question'].strip()}\n{lettered}Answer:"


def check_rows(rows: Sequence[dict[str, Any]], where: str) -> None:
    """DataError naming the row whose choices are not four or whose answer is not one of them."""
    for i, row in enumerate(rows):
        if len(row["choices"]) != len(LABELS):
            raise DataError(f"{where} row {i}: 'choices' must hold {len(LABELS)} choices, got {len(row['choices'])}")
        if row["answer"] >= len(LABELS):
            raise DataError(f"{where} row {i}: 'answer' {row['answer']} is not the index of one of its choices")


def evaluation_rows(rows: Sequence[dict[str, Any]], subject: str, where: str) -> list[dict[str, Any]]:
    """The rows with their prompt (``context``) and the labels scored after it (``labels``)."""
    check_rows(rows, where)
    return [{**row, CONTEXT: context(row, subject_of(row, subject)), CHOICE_LABELS: list(LABELS)} for row in rows]


def drills(tokenizer: Any, rows: Sequence[dict[str, Any]], subject: str, start_index: int = 0) -> list[Tokenized]:
    """Training rows: each question's prompt with its right label as the target, token ids as scored."""
    contexts = [context(row, subject_of(row, subject)) for row in rows]
    answers = [" " + LABELS[row["answer"]] for row in rows]
    return [
        Tokenized(s.prompt_ids, s.target_ids, start_index + k)
        for k, s in enumerate(choice_sequences(tokenizer, contexts, answers))
    ]

"""ROUGE scoring of generations, exactly as TOFU and MUSE score them, and stop-string cutting."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any


@cache
def _scorer() -> Any:
    """The one shared scorer (rouge1 + rougeL, Porter stemmer), built on first use."""
    from rouge_score import rouge_scorer  # nltk and scipy.stats (0.7 s): imported when a ROUGE is first scored

    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


def cut_at_stop_strings(text: str, stop_strings: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop string (empty stop strings are ignored; no stripping)."""
    cut = len(text)
    for stop in stop_strings:
        index = text.find(stop) if stop else -1
        if 0 <= index < cut:
            cut = index
    return text[:cut]


def rouge_scores(prediction: str, ground_truth: str) -> dict[str, float]:
    """ROUGE-1 and ROUGE-L recall and F1 of ``prediction`` against ``ground_truth`` (the reference text)."""
    scores = _scorer().score(target=ground_truth, prediction=prediction)
    return {
        "rouge1_recall": float(scores["rouge1"].recall),
        "rouge1_f1": float(scores["rouge1"].fmeasure),
        "rougeL_recall": float(scores["rougeL"].recall),
        "rougeL_f1": float(scores["rougeL"].fmeasure),
    }

"""ROUGE scoring of generations, exactly as TOFU and MUSE score them, and stop-string cutting."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

STEM_CACHE_SIZE = 1 << 16
"""Distinct words whose Porter stem is remembered (a stem depends on the word alone)."""


class _RememberingStemmer:
    """A stemmer that stems each distinct word once: scoring many generations against their references stems the
    same words again and again, and the Porter stemmer is most of ``rouge_score``'s time."""

    def __init__(self, stemmer: Any) -> None:
        self.stem = lru_cache(maxsize=STEM_CACHE_SIZE)(stemmer.stem)


@cache
def _scorer() -> Any:
    """The one shared scorer (rouge1 + rougeL, Porter stemmer: ``use_stemmer=True``'s tokenizer, its stems
    remembered), built on first use."""
    # nltk and scipy.stats (0.7 s): imported when a ROUGE is first scored
    from nltk.stem import porter
    from rouge_score import rouge_scorer, tokenize, tokenizers

    class StemmingTokenizer(tokenizers.Tokenizer):  # type: ignore[misc]
        """``rouge_score``'s default tokenizer with a stemmer that remembers."""

        def __init__(self) -> None:
            self.stemmer = _RememberingStemmer(porter.PorterStemmer())

        def tokenize(self, text: str) -> list[str]:
            return list(tokenize.tokenize(text, self.stemmer))

    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], tokenizer=StemmingTokenizer())


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

"""ROUGE scoring of generations, exactly as TOFU and MUSE score them (``rouge_score`` with its stemmer, which
the tests hold it to), and stop-string cutting."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from unlearn_core.metrics.porter import porter_stem

NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
STEMMED_LENGTH = 4
"""Words of at least this many characters are stemmed (ROUGE's rule: shorter words are kept as they are)."""


def rouge_tokens(text: str) -> list[str]:
    """ROUGE's tokens of ``text``: lower-cased, every run of characters other than ``a-z0-9`` a separator, words
    of four or more characters Porter-stemmed (``unlearn_core.metrics.porter``)."""
    words = NON_ALPHANUMERIC.sub(" ", text.lower()).split()
    stems = (porter_stem(word) if len(word) >= STEMMED_LENGTH else word for word in words)
    return [stem for stem in stems if stem]


def _fmeasure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _longest_common_subsequence(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (one row of the table at a time)."""
    previous = [0] * (len(second) + 1)
    for token in first:
        current = [0]
        for j, other in enumerate(second):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def cut_at_stop_strings(text: str, stop_strings: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop string (empty stop strings are ignored; no stripping)."""
    cut = len(text)
    for stop in stop_strings:
        index = text.find(stop) if stop else -1
        if 0 <= index < cut:
            cut = index
    return text[:cut]


def rouge_scores(prediction: str, ground_truth: str) -> dict[str, float]:
    """ROUGE-1 and ROUGE-L recall and F1 of ``prediction`` against ``ground_truth`` (the reference text).

    ROUGE-1 counts the unigrams the two share (each as often as the rarer side has it); ROUGE-L takes the longest
    common subsequence. Recall divides by the reference's token count, precision by the prediction's, F1 is their
    harmonic mean; ROUGE-1 divides by at least 1, ROUGE-L is 0 when either side has no token.
    """
    truth, predicted = rouge_tokens(ground_truth), rouge_tokens(prediction)
    in_truth, in_prediction = Counter(truth), Counter(predicted)
    shared = sum(min(count, in_prediction[token]) for token, count in in_truth.items())
    precision, recall = shared / max(len(predicted), 1), shared / max(len(truth), 1)
    scores = {"rouge1_recall": recall, "rouge1_f1": _fmeasure(precision, recall)}
    if not truth or not predicted:
        return {**scores, "rougeL_recall": 0.0, "rougeL_f1": 0.0}
    common = _longest_common_subsequence(truth, predicted)
    precision, recall = common / len(predicted), common / len(truth)
    return {**scores, "rougeL_recall": recall, "rougeL_f1": _fmeasure(precision, recall)}

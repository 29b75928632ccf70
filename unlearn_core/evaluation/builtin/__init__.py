"""The built-in metrics, each declared in its own module exactly as a plugin metric is declared."""

from __future__ import annotations

from unlearn_core.evaluation.builtin import (
    choice,
    classifier,
    derived,
    memorization,
    mia,
    probability,
    rouge,
    truth_ratio,
)
from unlearn_core.evaluation.metric import Metric

BUILTIN_METRICS: list[Metric] = [
    probability.METRIC,
    truth_ratio.PROBABILITY_NORMALISED,
    truth_ratio.TRUTH_RATIO,
    rouge.METRIC,
    derived.FORGET_QUALITY,
    derived.HARMONIC_MEAN,
    derived.PRIVLEAK,
    memorization.EXTRACTION_STRENGTH,
    memorization.EXACT_MEMORIZATION,
    *mia.METRICS,
    classifier.METRIC,
    choice.METRIC,
]

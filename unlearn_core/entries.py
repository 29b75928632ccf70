"""Constructors of the built-in metric entries, for benchmark suites (typed arguments, one call per entry).

from unlearn_core import entries
entries.probability("forget_Q_A_Prob", "forget")
entries.rouge("forget_Q_A_ROUGE", "forget", target="answer", rouge_type="rougeL_recall")
*entries.mia_attacks("forget", "holdout", field="answer")
entries.multiple_choice("mmlu", "mmlu", choices="choice_labels")
"""

from __future__ import annotations

from unlearn_core.evaluation.builtin.choice import entry as multiple_choice
from unlearn_core.evaluation.builtin.classifier import entry as classifier_prob
from unlearn_core.evaluation.builtin.derived import forget_quality_entry as forget_quality
from unlearn_core.evaluation.builtin.derived import harmonic_mean_entry as harmonic_mean
from unlearn_core.evaluation.builtin.derived import privleak_entry as privleak
from unlearn_core.evaluation.builtin.memorization import em_entry as exact_memorization
from unlearn_core.evaluation.builtin.memorization import es_entry as extraction_strength
from unlearn_core.evaluation.builtin.mia import entries as mia_attacks
from unlearn_core.evaluation.builtin.probability import entry as probability
from unlearn_core.evaluation.builtin.rouge import entry as rouge
from unlearn_core.evaluation.builtin.truth_ratio import normalised_entry as probability_normalised
from unlearn_core.evaluation.builtin.truth_ratio import truth_ratio_entry as truth_ratio

__all__ = [
    "classifier_prob",
    "exact_memorization",
    "extraction_strength",
    "forget_quality",
    "harmonic_mean",
    "mia_attacks",
    "multiple_choice",
    "privleak",
    "probability",
    "probability_normalised",
    "rouge",
    "truth_ratio",
]

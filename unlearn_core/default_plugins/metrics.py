"""Built-in metrics, registered through the same hook a third-party metric plugin uses."""

from __future__ import annotations

from typing import Any

from unlearn_core.hookspecs import hookimpl

MODULE = "unlearn_core.evaluation.builtin_metrics"
BUILTIN_METRICS: list[tuple[str, str, bool]] = [
    ("probability", "mean per-sample exp(-avg_loss) of an answer field", False),
    ("probability_normalised", "P(correct) / (P(correct) + sum of P(perturbed))", False),
    ("truth_ratio", "P(perturbed) / P(correct) per sample, aggregated", False),
    ("rouge", "ROUGE of greedy generations against the ground truth", False),
    ("forget_quality", "KS-test p-value of forget truth ratios against the retain model's", True),
    ("harmonic_mean", "harmonic mean of other results (model utility)", False),
    ("privleak", "relative MIA AUC gap against the retain model", True),
    ("extraction_strength", "1 - k*/n, k* the start of the longest exactly predicted suffix", False),
    ("exact_memorization", "mean argmax hit rate over the answer", False),
    ("mia_loss", "membership-inference attack: average loss", False),
    ("mia_zlib", "membership-inference attack: loss / zlib length", False),
    ("mia_min_k", "membership-inference attack: Min-K% log-probabilities", False),
    ("mia_min_k_plus_plus", "membership-inference attack: Min-K%++ z-scores", False),
    ("mia_gradnorm", "membership-inference attack: gradient norm", False),
    ("mia_reference", "membership-inference attack: loss minus a reference model's", False),
    ("classifier_prob", "a sequence classifier's class probability on another entry's generations", False),
]
"""(name, description, needs reference logs); each name is a function of ``MODULE``."""


@hookimpl
def register_metrics(register: Any) -> None:
    """Register every built-in metric (their code is imported on first use)."""
    from unlearn_core.evaluation.suite import LazyFunction, Metric

    for name, description, needs_reference in BUILTIN_METRICS:
        register(name, Metric(name, LazyFunction(f"{MODULE}:{name}"), description, needs_reference))

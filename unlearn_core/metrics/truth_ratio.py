"""TOFU truth ratio and normalised answer probability, from per-sample average losses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

EPS = 1e-10
TruthRatioAggregator = Literal["closer_to_1_better", "true_better"]


def truth_ratios(correct_avg_loss: Sequence[float], perturbed_avg_losses: Sequence[Sequence[float]]) -> np.ndarray:
    """Per-sample ``tr = P_w / (P_c + 1e-10)`` with ``P_c = exp(-loss_c)`` and ``P_w = exp(-mean_j loss_j)``.

    ``P_w`` is the geometric mean of the perturbed answers' per-token probabilities; samples may have different
    numbers of perturbations, but each needs at least one.
    """
    correct = _as_losses(correct_avg_loss, perturbed_avg_losses)
    mean_perturbed = np.array([np.mean(np.asarray(losses, dtype=np.float64)) for losses in perturbed_avg_losses])
    return np.exp(-mean_perturbed) / (np.exp(-correct) + EPS)


def truth_ratio_scores(tr: ArrayLike, aggregator: TruthRatioAggregator) -> np.ndarray:
    """Per-sample transformed truth ratio: ``min(tr, 1/(tr + 1e-10))`` or ``max(0, 1 - tr)``."""
    values = np.asarray(tr, dtype=np.float64)
    if aggregator == "closer_to_1_better":
        return np.minimum(values, 1.0 / (values + EPS))
    if aggregator == "true_better":
        return np.maximum(0.0, 1.0 - values)
    raise ValueError(f"unknown truth-ratio aggregator {aggregator!r}; use 'closer_to_1_better' or 'true_better'")


def aggregate_truth_ratio(tr: ArrayLike, aggregator: TruthRatioAggregator) -> float:
    """Mean of :func:`truth_ratio_scores` over samples (forget: closer_to_1_better; others: true_better)."""
    scores = truth_ratio_scores(tr, aggregator)
    if scores.size == 0:
        raise ValueError("cannot aggregate the truth ratio of zero samples")
    return float(np.mean(scores))


def probability_normalised(
    correct_avg_loss: Sequence[float], perturbed_avg_losses: Sequence[Sequence[float]]
) -> np.ndarray:
    """Per-sample ``P_c / (P_c + sum_j P_j + 1e-10)`` with ``P = exp(-avg_loss)`` (TOFU Q_A_Prob_normalised)."""
    correct = np.exp(-_as_losses(correct_avg_loss, perturbed_avg_losses))
    wrong = np.array([np.sum(np.exp(-np.asarray(losses, dtype=np.float64))) for losses in perturbed_avg_losses])
    return correct / (correct + wrong + EPS)


def _as_losses(correct_avg_loss: Sequence[float], perturbed_avg_losses: Sequence[Sequence[float]]) -> np.ndarray:
    """Validate that both inputs describe the same samples and each has perturbations; return the correct losses."""
    correct = np.asarray(correct_avg_loss, dtype=np.float64).reshape(-1)
    if len(perturbed_avg_losses) != correct.size:
        raise ValueError(f"{correct.size} correct losses but {len(perturbed_avg_losses)} lists of perturbed losses")
    for i, losses in enumerate(perturbed_avg_losses):
        if len(losses) == 0:
            raise ValueError(f"sample {i} has no perturbed answers")
    return correct

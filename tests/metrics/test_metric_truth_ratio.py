"""Golden values for the truth ratio and the normalised probability."""

import math

import numpy as np
import pytest

from unlearn_core.metrics.truth_ratio import (
    aggregate_truth_ratio,
    probability_normalised,
    truth_ratio_scores,
    truth_ratios,
)

L2 = math.log(2)
# sample 0: P_c = exp(-ln2) = 1/2; perturbed losses (ln2, ln8) -> mean 2 ln2 -> P_w = 1/4; tr = 0.25 / (0.5 + 1e-10)
# sample 1: P_c = exp(-ln4) = 1/4; perturbed losses (0, 0, 0) -> P_w = 1;               tr = 1 / (0.25 + 1e-10)
CORRECT = [L2, 2 * L2]
PERTURBED = [[L2, 3 * L2], [0.0, 0.0, 0.0]]
TR = [0.25 / (0.5 + 1e-10), 1.0 / (0.25 + 1e-10)]


def approx(value: object) -> object:
    return pytest.approx(value, rel=1e-6)


def test_truth_ratios() -> None:
    assert truth_ratios(CORRECT, PERTURBED).tolist() == approx(TR)


def test_closer_to_1_better() -> None:
    # min(tr, 1/(tr+1e-10)): sample 0 -> 0.5 (vs 2), sample 1 -> 1/4 (vs 4); mean 0.375
    expected = [min(t, 1 / (t + 1e-10)) for t in TR]
    assert expected == approx([0.5, 0.25])
    assert truth_ratio_scores(TR, "closer_to_1_better").tolist() == approx(expected)
    assert aggregate_truth_ratio(TR, "closer_to_1_better") == approx(0.375)


def test_true_better() -> None:
    # max(0, 1 - tr): sample 0 -> 0.5, sample 1 -> max(0, -3) = 0; mean 0.25
    assert truth_ratio_scores(TR, "true_better").tolist() == approx([1 - TR[0], 0.0])
    assert aggregate_truth_ratio(np.array(TR), "true_better") == approx(0.25)


def test_unknown_aggregator_and_empty() -> None:
    with pytest.raises(ValueError, match="aggregator"):
        aggregate_truth_ratio(TR, "higher_is_better")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="zero samples"):
        aggregate_truth_ratio([], "true_better")


def test_probability_normalised() -> None:
    # sample 0: P_c = 1/2, P_j = (1/2, 1/8): 0.5 / (0.5 + 0.625 + 1e-10) = 4/9
    # sample 1: P_c = 1/4, P_j = (1, 1, 1):  0.25 / (0.25 + 3 + 1e-10) = 1/13
    assert probability_normalised(CORRECT, PERTURBED).tolist() == approx([4 / 9, 1 / 13])


def test_mismatched_inputs_raise() -> None:
    with pytest.raises(ValueError, match="2 correct losses but 1"):
        truth_ratios(CORRECT, PERTURBED[:1])
    with pytest.raises(ValueError, match="sample 1 has no perturbed"):
        probability_normalised(CORRECT, [[0.0], []])

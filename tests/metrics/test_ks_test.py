"""The KS p-value computed here equals scipy.stats.ks_2samp's default to the last bit; by hand for tiny samples."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from unlearn_core.metrics.ks_test import ks_pvalue, ks_statistic


def test_hand_computed_equal_sizes() -> None:
    # a = {1, 2}, b = {3, 4}: D = 1, reached by 2 of the C(4, 2) = 6 orderings: p = 1/3
    assert ks_statistic(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert ks_pvalue(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == pytest.approx(1 / 3, rel=1e-15)
    # a = {1, 3}, b = {2, 4}: D = 1/2, which every ordering reaches: p = 1
    assert ks_statistic(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == 0.5
    assert ks_pvalue(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == 1.0
    # identical samples: D = 0, p = 1
    assert ks_pvalue(np.array([5.0, 5.0, 7.0]), np.array([7.0, 5.0, 5.0])) == 1.0


@pytest.mark.parametrize("size", [1, 2, 3, 7, 40, 100, 400])
def test_equal_sizes_equal_scipy_to_the_last_bit(size: int) -> None:
    rng = np.random.default_rng(size)
    for shift in (0.0, 0.2, 0.5, 1.0, 3.0):
        first = rng.normal(0.0, 1.0, size)
        second = rng.normal(shift, 1.0, size)
        assert ks_pvalue(first, second) == ks_2samp(first, second).pvalue
        rounded_first, rounded_second = np.round(first, 1), np.round(second, 1)  # many ties
        assert ks_pvalue(rounded_first, rounded_second) == ks_2samp(rounded_first, rounded_second).pvalue


def test_unequal_sizes_are_scipys() -> None:
    rng = np.random.default_rng(1)
    first, second = rng.normal(0.0, 1.0, 30), rng.normal(0.4, 1.0, 45)
    assert ks_pvalue(first, second) == ks_2samp(first, second).pvalue

"""Golden values for forget quality (KS), model utility and privleak."""

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from unlearn_core.metrics.forget_quality import forget_quality, ks_floor, model_utility, privleak


def approx(value: float, rel: float = 1e-6) -> object:
    return pytest.approx(value, rel=rel)


@pytest.mark.parametrize(("n", "expected"), [(200, 1.94e-119), (400, 1.06e-239)])
def test_complete_separation_floor_matches_published_tables(n: int, expected: float) -> None:
    model = np.linspace(0.0, 0.1, n)
    reference = np.linspace(1.0, 2.0, n)
    assert ks_floor(n, n) == approx(expected, rel=1e-2)
    assert ks_floor(n, n) == approx(2 / math.comb(2 * n, n))
    assert forget_quality(model, reference) == approx(expected, rel=1e-2)
    # scipy's exact two-sided p-value under complete separation is this floor
    assert ks_2samp(model, reference).pvalue == approx(ks_floor(n, n), rel=1e-9)


def test_floor_for_unequal_sizes() -> None:
    # 2 of the C(8, 3) = 56 orderings are completely separated: 2/56
    assert ks_floor(3, 5) == approx(2 / 56)
    assert forget_quality([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0, 8.0]) == approx(2 / 56)
    assert forget_quality([4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0]) == approx(2 / 56)


def test_floor_applies_when_scipy_returns_less() -> None:
    # above 10000 samples scipy switches to the asymptotic distribution, which gives 0.0 for complete separation;
    # the exact value is 2 / C(20005, 5) ~ 7.49e-20
    model, reference = np.arange(20000.0), np.arange(5.0) + 1e6
    assert ks_2samp(model, reference).pvalue == 0.0
    assert forget_quality(model, reference) == approx(2 / math.comb(20005, 5))
    assert forget_quality(model, reference) == approx(7.494e-20, rel=1e-3)
    # below the float64 range the floor itself is 0.0
    assert ks_floor(700, 700) == 0.0


def test_hand_computed_p_value() -> None:
    # a = {1,2,4}, b = {3,5,6}: D = 2/3. Of the C(6,3) = 20 orderings, the 2^3 = 8 built from "ab"/"ba" pairs keep
    # |F_a - F_b| <= 1/3; the other 12 reach D >= 2/3, so p = 12/20
    assert forget_quality([1.0, 2.0, 4.0], [3.0, 5.0, 6.0]) == approx(0.6)


def test_normal_case_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    model, reference = rng.normal(0.0, 1.0, 40), rng.normal(0.3, 1.0, 50)
    expected = ks_2samp(model, reference).pvalue
    assert 1e-3 < expected < 1.0
    assert forget_quality(model.tolist(), reference.tolist()) == approx(expected, rel=1e-12)


def test_forget_quality_rejects_empty_or_nan() -> None:
    with pytest.raises(ValueError, match="reference truth ratios are empty"):
        forget_quality([1.0], [])
    with pytest.raises(ValueError, match="model truth ratios contain NaN"):
        forget_quality([1.0, math.nan], [1.0])
    with pytest.raises(ValueError, match="non-empty"):
        ks_floor(0, 3)


def test_model_utility_harmonic_mean() -> None:
    # 3 / (1/0.5 + 1/0.25 + 1/1) = 3/7
    assert model_utility({"retain_Q_A_Prob": 0.5, "ra_Q_A_ROUGE": 0.25, "wf_Truth_Ratio": 1.0}) == approx(3 / 7)


def test_model_utility_equals_scipys_harmonic_mean() -> None:
    from scipy.stats import hmean

    rng = np.random.default_rng(0)
    for size in (1, 3, 9):
        values = rng.uniform(0.01, 1.0, size)
        assert model_utility({f"m{i}": v for i, v in enumerate(values)}) == float(hmean(values))


def test_model_utility_zero_and_invalid() -> None:
    assert model_utility({"a": 0.5, "b": 0.0}) == 0.0
    with pytest.raises(ValueError, match="'wf_Q_A_ROUGE'"):
        model_utility({"a": 0.5, "wf_Q_A_ROUGE": -0.1})
    with pytest.raises(ValueError, match="'ra_Truth_Ratio'"):
        model_utility({"ra_Truth_Ratio": math.nan, "a": 0.0})
    with pytest.raises(ValueError):
        model_utility({})


def test_privleak() -> None:
    # ((1-0.3) - (1-0.5)) / ((1-0.5) + 1e-10) * 100 = 0.2 / 0.5 * 100 = 40 (up to the 1e-10)
    assert privleak(0.3, 0.5) == approx(0.2 / (0.5 + 1e-10) * 100)
    assert privleak(0.3, 0.5) == approx(40.0)
    # a model that looks fully memorised (AUC 1) against an unseen-looking retain model (AUC 0.5): -100
    assert privleak(1.0, 0.5) == approx(-100.0)
    assert privleak(0.5, 0.5) == 0.0

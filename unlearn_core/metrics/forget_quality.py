"""Forget quality (two-sample KS test), model utility (harmonic mean) and privleak."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from unlearn_core.metrics.ks_test import ks_pvalue

EPS = 1e-10


def ks_floor(n: int, m: int) -> float:
    """Smallest possible exact two-sided KS p-value for samples of sizes ``n`` and ``m``: ``2 / C(n + m, n)``.

    Under the null every one of the ``C(n + m, n)`` orderings of the pooled samples is equally likely, and the
    statistic reaches its maximum ``D = 1`` only when one sample lies entirely below the other: two orderings. So
    ``P(D >= 1) = 2 / C(n + m, n)`` for every ``n, m >= 1`` (equal sizes or not); scipy's exact method returns this
    value (1.94e-119 for n = m = 200, 1.06e-239 for n = m = 400). Below the float64 range it is 0.0.
    """
    if n < 1 or m < 1:
        raise ValueError(f"KS test needs non-empty samples, got sizes {n} and {m}")
    return 2 / math.comb(n + m, n)  # exact big-integer division, correctly rounded


def forget_quality(model_tr: ArrayLike, reference_tr: ArrayLike) -> float:
    """Two-sided two-sample KS p-value between the model's and the retain model's forget truth ratios.

    ``scipy.stats.ks_2samp``'s default p-value (``unlearn_core.metrics.ks_test``), floored at :func:`ks_floor`, the
    exact value under complete separation, where the computation may underflow to 0.
    """
    model = _finite_sample(model_tr, "model truth ratios")
    reference = _finite_sample(reference_tr, "reference truth ratios")
    pvalue = ks_pvalue(model, reference)
    return max(pvalue, ks_floor(model.size, reference.size))


def model_utility(values: Mapping[str, float]) -> float:
    """Harmonic mean of the model-utility components; 0.0 if any is 0, ValueError naming a negative or NaN one."""
    if not values:
        raise ValueError("model utility needs at least one value")
    for key, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"model utility component {key!r} must be a finite number >= 0, got {value!r}")
    if any(value == 0 for value in values.values()):
        return 0.0
    return float(1.0 / np.mean(1.0 / np.asarray(list(values.values()), dtype=np.float64)))  # as scipy's hmean


def privleak(auc: float, auc_retain: float) -> float:
    """Relative MIA-AUC gap to the retain model, in percent (near 0 ideal, negative = under-unlearned)."""
    return ((1 - auc) - (1 - auc_retain)) / ((1 - auc_retain) + EPS) * 100


def _finite_sample(values: ArrayLike, name: str) -> np.ndarray:
    """A non-empty 1-D float64 array without NaN, or a ValueError naming ``name``."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} are empty")
    if np.isnan(array).any():
        raise ValueError(f"{name} contain NaN")
    return array

"""The two-sided two-sample Kolmogorov-Smirnov p-value, as ``scipy.stats.ks_2samp`` gives it by default.

TOFU's forget quality compares two samples of the same size (the model's and the retain model's truth ratios on the
forget split). For equal sizes ``n`` scipy's default is the exact distribution, and so is this module's: with
``D = h / n`` the largest gap between the two empirical distribution functions,

    P(D_{n,n} >= h/n) = 2 * sum_{k>=1} (-1)^(k+1) C(2n, n - k h) / C(2n, n),

evaluated nested, ``2 r_0 (1 - r_1 (1 - r_2 (...)))`` with ``r_k = C(2n, n - (k+1) h) / C(2n, n - k h)`` (a product
of ``h`` factors): free of cancellation, and scipy's float to the last bit.
Everything else (unequal sizes, more than 10,000 values, a sum that rounds outside [0, 1]) is left to scipy, imported
then: scipy.stats takes a fifth of a second to import, which every evaluation would otherwise pay.
"""

from __future__ import annotations

import numpy as np

EXACT_LIMIT = 10_000
"""scipy's default method is exact up to this many values per sample."""


def ks_statistic(first: np.ndarray, second: np.ndarray) -> float:
    """The largest absolute gap between the empirical distribution functions of two non-empty samples."""
    first, second = np.sort(first), np.sort(second)
    pooled = np.concatenate([first, second])
    gaps = np.searchsorted(first, pooled, side="right") / first.size
    gaps = gaps - np.searchsorted(second, pooled, side="right") / second.size
    below, above = float(np.clip(-gaps.min(), 0, 1)), float(gaps.max())
    return below if below > above else above


def ks_pvalue(first: np.ndarray, second: np.ndarray) -> float:
    """Two-sided p-value of the two-sample KS test (``scipy.stats.ks_2samp(first, second).pvalue``)."""
    size = first.size
    if size == second.size and 0 < size <= EXACT_LIMIT:
        steps = int(np.round(ks_statistic(first, second) * size))
        if steps == 0:
            return 1.0
        pvalue = _equal_sizes_tail(size, steps)
        if 0 <= pvalue <= 1:
            return pvalue
    from scipy.stats import ks_2samp  # scipy.stats (0.2 s): only for what is not computed here

    return float(ks_2samp(first, second).pvalue)


def _equal_sizes_tail(n: int, h: int) -> float:
    """``P(D_{n,n} >= h/n)``: the module's nested sum, from the innermost ``r_k`` out (the first, ``k = n // h``,
    is 0)."""
    total = 0.0
    for k in range(n // h, -1, -1):
        ratio = 1.0
        for j in range(h):
            ratio = (n - k * h - j) * ratio / (n + k * h + j + 1)
        total = ratio * (1.0 - total)
    return 2 * total

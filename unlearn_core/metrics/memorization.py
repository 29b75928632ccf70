"""Teacher-forced memorization metrics over per-token argmax hits (targets excluding EOS)."""

from __future__ import annotations

import math

from torch import Tensor


def extraction_strength(argmax_hits: Tensor) -> float:
    """Fraction of the targets covered by the longest exactly predicted suffix, ``1 - k*/n`` (nan when empty).

    ``k*`` is the 0-based start of that suffix, ``n`` when the last token is a miss, so ES runs from 0 (last token
    wrong) to 1 (every token right). Computed as the sum of a reversed cumulative product, no loop over tokens.
    """
    hits = argmax_hits.reshape(-1).long()
    n = hits.numel()
    if n == 0:
        return math.nan
    suffix_length = int(hits.flip(0).cumprod(0).sum())
    return suffix_length / n


def exact_memorization(argmax_hits: Tensor) -> float:
    """Fraction of targets whose argmax prediction is the target token (nan when empty)."""
    hits = argmax_hits.reshape(-1)
    if hits.numel() == 0:
        return math.nan
    return float(hits.double().mean())

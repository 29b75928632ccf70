"""Golden values for extraction strength and exact memorization."""

import math

import pytest
import torch

from unlearn_core.metrics.memorization import exact_memorization, extraction_strength


def hits(*values: int) -> torch.Tensor:
    return torch.tensor([bool(v) for v in values])


def test_extraction_strength() -> None:
    assert extraction_strength(hits(1, 1, 1, 1, 1)) == 1.0  # k* = 0
    assert extraction_strength(hits(1, 1, 1, 1, 0)) == 0.0  # last token missed: k* = n (the reference floors at 1/n)
    assert extraction_strength(hits(1, 0, 1, 1, 1)) == pytest.approx(0.6)  # k* = 2: 1 - 2/5
    assert extraction_strength(hits(1, 1, 0, 1, 1)) == pytest.approx(0.4)  # suffix of 2 of 5: k* = 3
    assert extraction_strength(hits(0, 1)) == pytest.approx(0.5)
    assert math.isnan(extraction_strength(torch.tensor([], dtype=torch.bool)))


def test_exact_memorization() -> None:
    assert exact_memorization(hits(1, 0, 1, 1)) == pytest.approx(0.75)
    assert exact_memorization(hits(0, 0, 0)) == 0.0
    assert exact_memorization(hits(1)) == 1.0
    assert math.isnan(exact_memorization(torch.tensor([], dtype=torch.bool)))

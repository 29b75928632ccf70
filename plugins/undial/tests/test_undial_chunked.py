"""UNDIAL gives the same losses and gradients with chunked log-probabilities as with the whole logits, on a
Llama with a 32k vocabulary (``tests/support/chunked_check.py``)."""

from __future__ import annotations

import pytest
from support.chunked_check import assert_chunked_equals_whole_logits
from unlearn_undial.method import UNDIAL


@pytest.mark.parametrize(
    "method", [UNDIAL(), UNDIAL(alpha=1.0, retain_loss_type="KL", beta=3.0)], ids=["undial", "undial-kl"]
)
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_chunked_equals_whole_logits(method, monkeypatch)

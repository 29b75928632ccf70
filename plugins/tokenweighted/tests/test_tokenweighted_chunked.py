"""WGA, SatImp and CE-U give the same losses and gradients with chunked log-probabilities as with the whole logits, on a
Llama with a 32k vocabulary (``tests/support/chunked_check.py``)."""

from __future__ import annotations

import pytest
from support.chunked_check import assert_chunked_equals_whole_logits
from unlearn_tokenweighted.methods import CEU, WGA, SatImp


@pytest.mark.parametrize(
    "method",
    [WGA(), WGA(retain_loss_type="KL", beta=2.0), SatImp(gamma=100.0), CEU(), CEU(ignore_first_n_answer_tokens=3)],
    ids=["wga", "wga-kl", "satimp", "ceu", "ceu-3"],
)
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_chunked_equals_whole_logits(method, monkeypatch)

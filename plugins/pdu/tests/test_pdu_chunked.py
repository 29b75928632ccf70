"""PDU gives the same losses and gradients with chunked log-probabilities as with the whole logits, on a
Llama with a 32k vocabulary (``tests/support/chunked_check.py``)."""

from __future__ import annotations

import pytest
from support.chunked_check import assert_chunked_equals_whole_logits
from unlearn_pdu.method import PDU


@pytest.mark.parametrize(
    "method",
    [PDU(retain_loss_eps=0.5), PDU(retain_loss_eps=0.5, retain_loss_type="KL", gamma=2.0)],
    ids=["pdu", "pdu-kl"],
)
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_chunked_equals_whole_logits(method, monkeypatch)

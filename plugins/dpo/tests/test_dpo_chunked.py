"""DPO and IdkNLL give the same losses and gradients with chunked log-probabilities as with the whole logits, on a
Llama with a 32k vocabulary (``tests/support/chunked_check.py``)."""

from __future__ import annotations

import pytest
from support.chunked_check import assert_chunked_equals_whole_logits, part
from unlearn_dpo.methods import ALTERNATE, DPO, IdkNLL


@pytest.mark.parametrize(
    "method", [DPO(), DPO(retain_loss_type="KL", beta=0.5), IdkNLL()], ids=["dpo", "dpo-kl", "idk"]
)
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_chunked_equals_whole_logits(method, monkeypatch, {ALTERNATE: part(4)})

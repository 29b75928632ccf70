"""GradAscent and GradDiff give the same losses and gradients with chunked log-probabilities as with the whole
logits, on a Llama with a 32k vocabulary (``tests/support/chunked_check.py``)."""

from __future__ import annotations

import pytest
from support.chunked_check import assert_chunked_equals_whole_logits
from unlearn_gradascent.methods import GradAscent, GradDiff


@pytest.mark.parametrize("method", [GradAscent(), GradDiff(), GradDiff(retain_loss_type="KL")])
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_chunked_equals_whole_logits(method, monkeypatch)

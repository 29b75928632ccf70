"""One check that a fused scorer's statistics equal plain full-sequence scoring's (to float tolerance)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch


def assert_same_statistics(
    groups: Sequence[Any], ours: Sequence[Sequence[Any]], plain: Sequence[Sequence[Any]]
) -> None:
    """Per answer of each group: target counts, mean loss, argmaxes, token log-probs, and z-scores exactly where the
    group asks for them."""
    for group, row_ours, row_plain in zip(groups, ours, plain, strict=True):
        for k, (a, b) in enumerate(zip(row_ours, row_plain, strict=True)):
            assert a.num_targets == b.num_targets
            if a.num_targets:
                assert math.isclose(a.avg_loss, b.avg_loss, rel_tol=1e-5)
                assert torch.equal(a.argmax_ids, b.argmax_ids)
                assert torch.allclose(a.token_logprobs, b.token_logprobs, rtol=1e-4, atol=1e-5)
                if group.wants_z(k):
                    assert torch.allclose(a.minkpp_z, b.minkpp_z, rtol=1e-4, atol=1e-5)
                else:
                    assert a.minkpp_z is None

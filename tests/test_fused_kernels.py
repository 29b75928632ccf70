"""On CUDA, with Cut Cross-Entropy or Liger-Kernel installed, their log-probabilities and summed NLL (values and
gradients) match the chunked path, the reference. Skipped where there is no CUDA device or neither library."""

from __future__ import annotations

import pytest
import torch

from unlearn_core.chunked.deferred import DeferredLogits
from unlearn_core.chunked.functions import TargetLogprob, row_terms
from unlearn_core.chunked.kernels import FUSED_ENV, fused_nll_sum, fused_target_logprobs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="the fused kernels run on CUDA only")


def _inputs() -> tuple[torch.Tensor, torch.nn.Linear, torch.Tensor]:
    torch.manual_seed(0)
    head = torch.nn.Linear(64, 32000, bias=False, device="cuda", dtype=torch.bfloat16)
    rows = torch.randn(300, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    return rows, head, torch.randint(0, 32000, (300,), device="cuda")


@pytest.mark.parametrize("which", ["target_logprobs", "nll_sum"])
def test_fused_matches_chunked(which: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rows, head, targets = _inputs()
    source = DeferredLogits(rows, head, 32000, head.weight, None)
    fused = fused_target_logprobs(source, targets) if which == "target_logprobs" else fused_nll_sum(source, targets)
    if fused is None:
        pytest.skip("neither cut-cross-entropy nor liger-kernel is installed")
    (fused.sum() if which == "target_logprobs" else -fused).backward()
    fused_grad = rows.grad.clone()
    rows.grad = None
    monkeypatch.setenv(FUSED_ENV, "0")
    chunked = row_terms(source, TargetLogprob(targets), size=64)
    chunked.sum().backward()
    expected = chunked if which == "target_logprobs" else -chunked.sum()
    torch.testing.assert_close(fused.float(), expected.detach().float(), atol=2e-2, rtol=2e-2)  # bfloat16 inputs
    torch.testing.assert_close(fused_grad.float(), rows.grad.float(), atol=2e-2, rtol=5e-2)

"""Fused GPU kernels from kept libraries for the head and the cross-entropy, used on CUDA when installed.

- Cut Cross-Entropy (``cut-cross-entropy``, Apple): ``linear_cross_entropy(..., reduction="none")`` gives each
  row's target NLL without building the logits, with a gradient for each row: ``fused_target_logprobs``.
- Liger-Kernel (``liger-kernel``): ``liger_fused_linear_cross_entropy(..., reduction="sum")`` gives the summed NLL
  of the rows (its gradient is computed in the forward pass for a scalar loss, so only sums use it):
  ``fused_nll_sum``.

Both need a plain linear head on a CUDA device and half-precision rows (the libraries' own kernels); anywhere else,
and with ``UNLEARN_FUSED_KERNELS=0``, these return None and the chunked path of ``functions`` runs. The chunked path
is the reference their results are tested against (``tests/test_fused_kernels.py``, which runs only where CUDA and one
of the libraries are present; it has not run on the machines this was written on, which have no GPU).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from unlearn_core.chunked.deferred import DeferredLogits

FUSED_ENV = "UNLEARN_FUSED_KERNELS"


def _usable(source: DeferredLogits) -> bool:
    if os.environ.get(FUSED_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    rows = source.hidden
    return (
        source.weight is not None
        and source.bias is None
        and rows.is_cuda
        and rows.dtype in (torch.bfloat16, torch.float16)
        and rows.shape[0] > 0
    )


def _import(module: str, name: str) -> Any:
    """``module.name`` when the optional library is installed (it is an optional extra), else None."""
    try:
        return getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError):
        return None


def fused_target_logprobs(source: DeferredLogits, targets: torch.Tensor) -> torch.Tensor | None:
    """``log p(y_i)`` per hidden row through Cut Cross-Entropy, or None where it does not apply."""
    if not _usable(source):
        return None
    linear_cross_entropy = _import("cut_cross_entropy", "linear_cross_entropy")
    if linear_cross_entropy is None:
        return None
    weight = source.weight.to(source.hidden.dtype)  # type: ignore[union-attr]
    return -linear_cross_entropy(source.hidden, weight, targets, reduction="none").float()


def fused_nll_sum(source: DeferredLogits, targets: torch.Tensor) -> torch.Tensor | None:
    """The summed NLL of the rows' targets through Liger-Kernel (else Cut Cross-Entropy), or None."""
    if not _usable(source):
        return None
    liger = _import("liger_kernel.transformers.functional", "liger_fused_linear_cross_entropy")
    if liger is None:
        fused = fused_target_logprobs(source, targets)
        return None if fused is None else -fused.sum()
    weight = source.weight.to(source.hidden.dtype)  # type: ignore[union-attr]
    return liger(source.hidden, weight, targets, reduction="sum").float()

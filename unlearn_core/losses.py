"""Differentiable loss primitives shared by unlearning methods (spec/METHODS.md), in one place so every method
shifts, masks and reduces the same way: token and sequence NLL, the KL to the reference, and the retain losses.
A method's own forget loss lives in its plugin.

Conventions: ``labels`` is -100 on prompt and padding; logits at position ``t`` predict token ``t + 1``; log-softmax
runs in float32 whatever the model dtype; a sequence log-probability is a sum over its target tokens,
``log pi(y|x) = -NLL_sum``. A batch without any target token makes ``mean_token_nll`` and ``kl_on_targets`` NaN, so
the runner's non-finite-loss check stops on it instead of training on nothing.

Every primitive takes the model's output as full logits ``[B, T, V]`` or as ``DeferredLogits`` (hidden states and
the head, from ``model_output``): then only the rows that predict a target go through the head, chunk by chunk, and
no ``[B, T, V]`` tensor exists in the forward or the backward pass (``unlearn_core.chunked``). Both give the same
values up to float rounding.

Averaged terms take an optional ``count``: the number of units (target tokens) of the effective batch to divide the
sum by (``UnlearningMethod.totals``); without it they are means over the batch given.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from unlearn_core.chunked.deferred import DeferredLogits, model_output
from unlearn_core.chunked.functions import kl_rows, target_logprobs
from unlearn_core.chunked.kernels import fused_nll_sum
from unlearn_core.errors import ConfigError
from unlearn_core.methods import RETAIN_LOSS_TYPES, Batch, Reference
from unlearn_core.normalization import share

IGNORE_INDEX = -100

Scores = torch.Tensor | DeferredLogits
"""What the primitives take: full logits ``[B, T, V]`` or ``DeferredLogits`` (``model_output``)."""

__all__ = [
    "IGNORE_INDEX",
    "DeferredLogits",
    "Scores",
    "kl_on_targets",
    "mean_token_nll",
    "token_nll",
    "model_logits",
    "model_output",
    "reference_rows",
    "retain_loss",
    "sequence_nll",
    "shifted_rows",
    "shifted_targets",
]


def shifted_targets(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Causal shift: ``(logits[:, :-1], labels[:, 1:], mask)`` with ``mask = labels[:, 1:] != -100``."""
    shifted_logits = logits[:, :-1, :]
    shifted_labels = labels[:, 1:]
    return shifted_logits, shifted_labels, shifted_labels != IGNORE_INDEX


def shifted_rows(source: DeferredLogits, mask: torch.Tensor) -> DeferredLogits:
    """The hidden rows at the shifted positions where ``mask`` ``[B, T-1]`` is true (position ``t`` predicts the
    label at ``t + 1``), ``[N, H]``, with the same head."""
    shifted = DeferredLogits(source.hidden[:, :-1], source.project, source.vocab_size, source.weight, source.bias)
    return shifted.rows(mask)


def reference_rows(reference: Scores, mask: torch.Tensor) -> DeferredLogits:
    """``shifted_rows`` of a reference's output, without gradient; full reference logits (a partitioned reference)
    are taken as they are."""
    if isinstance(reference, DeferredLogits):
        return shifted_rows(reference, mask)
    return DeferredLogits(reference[:, :-1][mask].detach(), _same, reference.shape[-1])


def target_rows(source: DeferredLogits, labels: torch.Tensor) -> tuple[DeferredLogits, torch.Tensor, torch.Tensor]:
    """The hidden rows that predict a target (``[N, H]``, causal shift applied), their targets ``[N]`` and the mask
    ``[B, T-1]`` they came from."""
    shifted_labels = labels[:, 1:]
    mask = shifted_labels != IGNORE_INDEX
    return shifted_rows(source, mask), shifted_labels[mask], mask


def token_nll(logits: Scores, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position NLL ``-log p_t`` ``[B, T-1]`` (float32, 0 where masked) and the target mask, after the causal
    shift; from ``DeferredLogits`` only the target rows go through the head, chunk by chunk."""
    if isinstance(logits, DeferredLogits):
        rows, targets, mask = target_rows(logits, labels)
        nll = -target_logprobs(rows, targets)
        return torch.zeros(mask.shape, dtype=nll.dtype, device=nll.device).masked_scatter(mask, nll), mask
    shifted_logits, shifted_labels, mask = shifted_targets(logits, labels)
    log_probs = F.log_softmax(shifted_logits.float(), dim=-1)
    safe_labels = shifted_labels.masked_fill(~mask, 0).unsqueeze(-1)
    nll = -log_probs.gather(-1, safe_labels).squeeze(-1)
    # where(), not a product: a masked position with -inf log-probability must not turn the sum into NaN
    return torch.where(mask, nll, torch.zeros_like(nll)), mask


def sequence_nll(logits: Scores, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample NLL summed over target tokens ``[B]`` (float32) and the number of target tokens ``[B]`` (int64)."""
    nll, mask = token_nll(logits, labels)
    return nll.sum(dim=-1), mask.sum(dim=-1)


def mean_token_nll(logits: Scores, labels: torch.Tensor, count: float | None = None) -> torch.Tensor:
    """Mean cross-entropy over every target token of the batch (HF causal-LM loss with ``ignore_index=-100``), or
    its sum divided by ``count``."""
    total, mask = _nll_total(logits, labels)
    return total / mask.sum() if count is None else share(total, count)


def _nll_total(logits: Scores, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed NLL of the targets (a fused CUDA kernel's when one applies) and the target mask."""
    if isinstance(logits, DeferredLogits):
        rows, targets, mask = target_rows(logits, labels)
        fused = fused_nll_sum(rows, targets)
        if fused is not None:
            return fused, mask
    nll, mask = token_nll(logits, labels)
    return nll.sum(), mask


def kl_on_targets(ref_logits: Scores, logits: Scores, labels: torch.Tensor, count: float | None = None) -> torch.Tensor:
    """``KL(pi_ref || pi_theta)`` summed over the vocabulary, averaged over target positions (not prompt/padding),
    or summed over them and divided by ``count``."""
    if isinstance(logits, DeferredLogits):
        kl = _chunked_kl(ref_logits, logits, labels)
        return kl.mean() if count is None else share(kl.sum(), count)
    if isinstance(ref_logits, DeferredLogits):
        ref_logits = ref_logits.logits()
    shifted_ref, _, mask = shifted_targets(ref_logits.detach(), labels)
    shifted_logits, _, _ = shifted_targets(logits, labels)
    ref_log_probs = F.log_softmax(shifted_ref.float(), dim=-1)
    log_probs = F.log_softmax(shifted_logits.float(), dim=-1)
    kl = F.kl_div(log_probs, ref_log_probs, reduction="none", log_target=True).sum(dim=-1)
    return kl[mask].mean() if count is None else share(kl[mask].sum(), count)


def kl_every_position(ref_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """open-unlearning's KL retain term: ``KL(pi_ref || pi_theta)`` summed over the vocabulary at every position of
    the batch (prompt, padding and the last position included, no shift), divided by batch size × sequence length.
    It depends on the padding, so it is a statistic of one micro-batch; methods use it only in their
    ``compat=open-unlearning`` mode."""
    vocab = logits.shape[-1]
    ref_log_probs = F.log_softmax(ref_logits.detach().float(), dim=-1).reshape(-1, vocab)
    log_probs = F.log_softmax(logits.float(), dim=-1).reshape(-1, vocab)
    return F.kl_div(log_probs, ref_log_probs, reduction="batchmean", log_target=True)


def _chunked_kl(ref_logits: Scores, logits: DeferredLogits, labels: torch.Tensor) -> torch.Tensor:
    """KL of each target row ``[N]``, the model's head applied chunk by chunk (the reference's too when deferred)."""
    rows, _, mask = target_rows(logits, labels)
    return kl_rows(reference_rows(ref_logits, mask), rows)


def _same(rows: torch.Tensor) -> torch.Tensor:
    return rows


def model_logits(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Logits of ``model`` on a padded causal-LM batch; keys other than input_ids/attention_mask are ignored."""
    return model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits


def retain_loss(
    kind: str,
    model: torch.nn.Module,
    retain_batch: Batch,
    reference: Reference | None,
    count: float | None = None,
    *,
    every_position: bool = False,
    logits: Scores | None = None,
) -> torch.Tensor:
    """The retain term of ``retain_loss_type`` ``kind``: "NLL" (mean token CE) or "KL" (to the reference model),
    averaged over the retain target tokens of the batch, or over ``count`` of them (the effective batch's).
    ``logits`` are the model's on ``retain_batch`` when already computed (``shared_forward.part_outputs``). With
    ``every_position``, "KL" is open-unlearning's average over every position of the batch instead (``count`` and
    ``logits`` are then not used)."""
    if kind not in RETAIN_LOSS_TYPES:
        raise ConfigError(f"unknown retain_loss_type '{kind}'; valid choices: {', '.join(RETAIN_LOSS_TYPES)}")
    if kind == "KL" and reference is None:
        raise ConfigError("retain_loss_type 'KL' needs a reference model, but none was provided")
    if kind == "KL" and every_position:
        return kl_every_position(reference.logits(retain_batch), model_logits(model, retain_batch))  # type: ignore[union-attr]
    if logits is None:
        logits = model_output(model, retain_batch)
    if kind == "NLL":
        return mean_token_nll(logits, retain_batch["labels"], count)
    output = getattr(reference, "output", None)
    ref = output(retain_batch) if callable(output) else reference.logits(retain_batch)  # type: ignore[union-attr]
    return kl_on_targets(ref, logits, retain_batch["labels"], count)

"""Differentiable loss primitives shared by unlearning methods (spec/METHODS.md), in one place so every method
shifts, masks and reduces the same way: token and sequence NLL, the KL to the reference, and the retain losses.
A method's own forget loss lives in its plugin.

Conventions: ``labels`` is -100 on prompt and padding; logits at position ``t`` predict token ``t + 1``; log-softmax
runs in float32 whatever the model dtype; a sequence log-probability is a sum over its target tokens,
``log pi(y|x) = -NLL_sum``. A batch without any target token makes ``mean_token_nll`` and ``kl_on_targets`` NaN, so
the runner's non-finite-loss check stops on it instead of training on nothing.

Averaged terms take an optional ``count``: the number of units (target tokens) of the effective batch to divide the
sum by (``UnlearningMethod.totals``); without it they are means over the batch given.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from unlearn_core.errors import ConfigError
from unlearn_core.methods import RETAIN_LOSS_TYPES, Batch, Reference
from unlearn_core.normalization import share

IGNORE_INDEX = -100


def shifted_targets(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Causal shift: ``(logits[:, :-1], labels[:, 1:], mask)`` with ``mask = labels[:, 1:] != -100``."""
    shifted_logits = logits[:, :-1, :]
    shifted_labels = labels[:, 1:]
    return shifted_logits, shifted_labels, shifted_labels != IGNORE_INDEX


def _token_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position NLL ``[B, T-1]`` (0 where masked) and the target mask, after the causal shift."""
    shifted_logits, shifted_labels, mask = shifted_targets(logits, labels)
    log_probs = F.log_softmax(shifted_logits.float(), dim=-1)
    safe_labels = shifted_labels.masked_fill(~mask, 0).unsqueeze(-1)
    nll = -log_probs.gather(-1, safe_labels).squeeze(-1)
    # where(), not a product: a masked position with -inf log-probability must not turn the sum into NaN
    return torch.where(mask, nll, torch.zeros_like(nll)), mask


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample NLL summed over target tokens ``[B]`` (float32) and the number of target tokens ``[B]`` (int64)."""
    nll, mask = _token_nll(logits, labels)
    return nll.sum(dim=-1), mask.sum(dim=-1)


def mean_token_nll(logits: torch.Tensor, labels: torch.Tensor, count: float | None = None) -> torch.Tensor:
    """Mean cross-entropy over every target token of the batch (HF causal-LM loss with ``ignore_index=-100``), or
    its sum divided by ``count``."""
    nll, mask = _token_nll(logits, labels)
    return nll.sum() / mask.sum() if count is None else share(nll.sum(), count)


def kl_on_targets(
    ref_logits: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor, count: float | None = None
) -> torch.Tensor:
    """``KL(pi_ref || pi_theta)`` summed over the vocabulary, averaged over target positions (not prompt/padding),
    or summed over them and divided by ``count``."""
    shifted_ref, _, mask = shifted_targets(ref_logits.detach(), labels)
    shifted_logits, _, _ = shifted_targets(logits, labels)
    ref_log_probs = F.log_softmax(shifted_ref.float(), dim=-1)
    log_probs = F.log_softmax(shifted_logits.float(), dim=-1)
    kl = F.kl_div(log_probs, ref_log_probs, reduction="none", log_target=True).sum(dim=-1)
    return kl[mask].mean() if count is None else share(kl[mask].sum(), count)


def model_logits(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Logits of ``model`` on a padded causal-LM batch; keys other than input_ids/attention_mask are ignored."""
    return model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits


def retain_loss(
    kind: str,
    model: torch.nn.Module,
    retain_batch: Batch,
    reference: Reference | None,
    count: float | None = None,
    logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """The retain term of ``retain_loss_type`` ``kind``: "NLL" (mean token CE) or "KL" (to the reference model),
    averaged over the retain target tokens of the batch, or over ``count`` of them (the effective batch's).
    ``logits`` are the model's on ``retain_batch`` when already computed (``shared_forward.part_logits``)."""
    if kind not in RETAIN_LOSS_TYPES:
        raise ConfigError(f"unknown retain_loss_type '{kind}'; valid choices: {', '.join(RETAIN_LOSS_TYPES)}")
    if kind == "KL" and reference is None:
        raise ConfigError("retain_loss_type 'KL' needs a reference model, but none was provided")
    if logits is None:
        logits = model_logits(model, retain_batch)
    if kind == "NLL":
        return mean_token_nll(logits, retain_batch["labels"], count)
    ref_logits = reference.logits(retain_batch)  # type: ignore[union-attr]
    return kl_on_targets(ref_logits, logits, retain_batch["labels"], count)

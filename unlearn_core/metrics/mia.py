"""Membership-inference attack scores (higher = less likely a member) and the ROC AUC that summarises them."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from unlearn_core.metrics.statistics import gather_targets


def loss_score(avg_loss: float) -> float:
    """LOSS attack: the average target loss itself."""
    return avg_loss


def zlib_score(avg_loss: float, text: str) -> float:
    """zlib attack: average loss divided by the zlib-compressed byte length of the target text (UTF-8)."""
    return avg_loss / len(zlib.compress(text.encode("utf-8")))


def min_k_score(token_logprobs: Tensor, k: float = 0.4) -> float:
    """Min-K% attack: ``-mean`` of the lowest ``max(1, int(n * k))`` token log-probs (nan when there are none)."""
    return _neg_mean_lowest(token_logprobs, k)


def min_k_plus_plus_score(minkpp_z: Tensor, k: float = 0.4) -> float:
    """Min-K%++ attack: ``-mean`` of the lowest ``max(1, int(n * k))`` z-scores (nan when there are none)."""
    return _neg_mean_lowest(minkpp_z, k)


def reference_score(avg_loss: float, ref_avg_loss: float) -> float:
    """Reference attack: the model's average loss minus the reference model's."""
    return avg_loss - ref_avg_loss


def auc(forget_scores: Sequence[float], holdout_scores: Sequence[float]) -> float:
    """ROC AUC of the scores with labels 0 = forget and 1 = holdout; ties count one half (Mann-Whitney U / n0 n1)."""
    forget = np.asarray(forget_scores, dtype=np.float64).reshape(-1)
    holdout = np.asarray(holdout_scores, dtype=np.float64).reshape(-1)
    if forget.size == 0 or holdout.size == 0:
        raise ValueError(f"AUC needs both classes, got {forget.size} forget and {holdout.size} holdout scores")
    if np.isnan(forget).any() or np.isnan(holdout).any():
        raise ValueError("AUC scores contain NaN")
    ordered = np.sort(forget)
    below = np.searchsorted(ordered, holdout, side="left")  # forget scores under each holdout score
    tied = np.searchsorted(ordered, holdout, side="right") - below
    u_statistic = float(below.sum()) + 0.5 * float(tied.sum())  # pairs where holdout scores higher; a tie counts half
    return u_statistic / (forget.size * holdout.size)


def gradnorm_scores(model: torch.nn.Module, batch: dict[str, Tensor]) -> list[float]:
    """Gradient-norm attack: per sample, the mean L2 norm over parameter tensors of the gradient of its loss.

    The loss is ``-mean(token_logprobs)`` over the targets excluding EOS (nan for a sample with fewer than two
    targets). Samples are processed one at a time. Gradients come from ``torch.autograd.grad`` so a model being
    trained is not disturbed: ``.grad`` is never read or written and the train/eval mode is left as it is (so
    dropout, if active, stays active). The mean runs over the ``requires_grad`` tensors that receive a gradient,
    as after a plain ``loss.backward()``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("gradnorm needs a model with parameters that require grad")
    device = params[0].device
    scores = []
    for i in range(batch["input_ids"].shape[0]):
        sample = {key: batch[key][i : i + 1].to(device) for key in ("input_ids", "attention_mask", "labels")}
        scores.append(_gradnorm_one(model, params, sample))
    return scores


def _gradnorm_one(model: torch.nn.Module, params: list[torch.nn.Parameter], sample: dict[str, Tensor]) -> float:
    """Gradient-norm score of a single-sample batch."""
    with torch.enable_grad():
        output = model(input_ids=sample["input_ids"], attention_mask=sample["attention_mask"])
        logits = output.logits if hasattr(output, "logits") else output
        rows, targets, _ = gather_targets(logits, sample["labels"])
        if targets.numel() < 2:
            return math.nan
        logp = torch.log_softmax(rows[:-1].float(), dim=-1)  # the last target is EOS
        loss = -logp.gather(1, targets[:-1].unsqueeze(1)).mean()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    norms = [g.detach().float().norm() for g in grads if g is not None]
    return float(torch.stack(norms).mean())


def _neg_mean_lowest(values: Tensor, k: float) -> float:
    """``-mean`` of the ``max(1, int(n * k))`` lowest values; nan for an empty tensor."""
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")
    flat = values.reshape(-1).double()
    n = flat.numel()
    if n == 0:
        return math.nan
    lowest = torch.topk(flat, max(1, int(n * k)), largest=False).values
    return float(-lowest.mean())

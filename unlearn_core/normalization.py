"""Counts of the effective batch that loss terms are normalised by, so a result does not depend on the batch split.

An optimizer step trains on the effective batch: ``per_device_train_batch_size`` × ``gradient_accumulation_steps``
× processes. A term averaged within each micro-batch and then averaged again over micro-batches and processes is a
mean of means, which changes with the split. Instead, a method divides each term's sum by the count of the whole
effective batch (``UnlearningMethod.totals(batch)``): target tokens for a token-averaged term, rows for a
sample-averaged one. The runner counts every micro-batch of the step with ``UnlearningMethod.unit_counts`` before the
step's first forward, adds the counts over processes, and passes them in ``batch["totals"]``; each micro-batch's loss
is then its share of the effective batch's loss, and the shares add up. Called on a single batch without totals
(a unit test, an evaluation), the counts are the batch's own, so the loss is that batch's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

TOKENS = "tokens"
"""Target tokens of a part (label positions that are not -100 after the causal shift)."""
SAMPLES = "samples"
"""Rows of a part."""
TOTALS_KEY = "totals"
"""Where the runner puts the effective batch's ``BatchTotals`` in an ``UnlearnBatch``."""

Normalization = Literal["effective", "micro-batch", "whole-batch"]
"""How a method's terms are normalised (``UnlearningMethod.normalization()``):

- ``effective``: every term is divided by counts of ``totals(batch)``; the result does not depend on the split;
- ``micro-batch``: terms are means over the micro-batch (methods written before the totals existed): the runner
  averages them over micro-batches and processes, and the result depends on the split;
- ``whole-batch``: a term needs a statistic of the whole batch that cannot be split (a product of two batch means):
  the runner refuses a split of the effective batch unless ``trainer.args.average_tokens_across_devices=false``.
"""


def count_key(part: str, unit: str) -> str:
    """The key of ``unit`` (``tokens``, ``samples`` or a method's own) of ``part`` (``forget``, ``retain``, a field)."""
    return f"{part}.{unit}"


@dataclass(frozen=True)
class BatchTotals:
    """Counts of the effective batch by ``count_key``: ``forget.tokens``, ``retain.samples``, ``alternate.tokens``."""

    counts: Mapping[str, float]

    def __getitem__(self, key: str) -> float:
        try:
            return self.counts[key]
        except KeyError:
            raise KeyError(f"no count '{key}' in this batch (it has: {', '.join(sorted(self.counts))})") from None

    def tokens(self, part: str) -> float:
        """Target tokens of ``part`` in the effective batch."""
        return self[count_key(part, TOKENS)]

    def samples(self, part: str) -> float:
        """Rows of ``part`` in the effective batch."""
        return self[count_key(part, SAMPLES)]


def target_tokens(batch: Mapping[str, Any]) -> int:
    """Target tokens of a collated batch: labels after the causal shift that are not -100."""
    return int((batch["labels"][:, 1:] != -100).sum())


def batch_parts(batch: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The collated batches of an ``UnlearnBatch`` by part name: ``forget``, ``retain`` and each forget field."""
    parts = {name: batch[name] for name in ("forget", "retain") if isinstance(batch.get(name), Mapping)}
    parts.update(batch.get("forget_fields") or {})
    if not parts and "labels" in batch:
        parts["batch"] = batch  # a plain causal-LM batch (finetuning)
    return parts


def standard_counts(batch: Mapping[str, Any]) -> dict[str, float]:
    """Target tokens and rows of every part of ``batch``."""
    counts: dict[str, float] = {}
    for part, sub in batch_parts(batch).items():
        counts[count_key(part, TOKENS)] = float(target_tokens(sub))
        counts[count_key(part, SAMPLES)] = float(sub["labels"].shape[0])
    return counts


def add_counts(many: list[Mapping[str, float]]) -> dict[str, float]:
    """Counts of several micro-batches added key by key (a key missing from one counts 0 there)."""
    total: dict[str, float] = {}
    for counts in many:
        for key, value in counts.items():
            total[key] = total.get(key, 0.0) + float(value)
    return total


def share(total: torch.Tensor, count: float) -> torch.Tensor:
    """``total / count``: this micro-batch's share of a term averaged over the effective batch (NaN when the effective
    batch has no unit of that kind, so the runner's non-finite check stops instead of training on nothing)."""
    return total / count if count else total * float("nan")

"""The fused likelihood pass: every answer scored after a prompt shares ONE run of that prompt.

A group is one prompt with every answer that any selected metric scores after it (the answer, the paraphrased
answer and each perturbed answer of a TOFU question). The prompt and the answers' common beginnings run once:
packed in one row with a tree attention mask (``packed``), or, for models that do not take such a mask, through
the KV cache (``prefix_tree``). Every statistic equals the one from a plain forward over prompt + answer, up to
float rounding; :func:`score_plain` is that plain forward (models without a KV cache argument use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from unlearn_core.data import Tokenized, collate
from unlearn_core.evaluation import model_calls
from unlearn_core.metrics.statistics import (
    SampleStatistics,
    compute_sample_statistics,
)


@dataclass(frozen=True)
class AnswerGroup:
    """One prompt and the target ids of each answer scored after it; ``with_z`` per answer (None: all)."""

    prompt: tuple[int, ...]
    answers: tuple[tuple[int, ...], ...]
    with_z: tuple[bool, ...] | None = None

    def wants_z(self, answer: int) -> bool:
        """Whether answer ``answer`` needs Min-K%++ z-scores."""
        return self.with_z is None or self.with_z[answer]


@dataclass
class ScoringCounters:
    """How much work the passes did (tests check that each sequence is run once)."""

    model_calls: int = 0
    sequences: int = 0
    tokens: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, sequences: int, tokens: int) -> None:
        """Record one model call over ``sequences`` rows holding ``tokens`` real tokens."""
        self.model_calls += 1
        self.sequences += sequences
        self.tokens += tokens
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


PACKING: dict[tuple[type, Any, Any], bool] = {}
"""Per (model class, attention implementation, dtype): whether packed tree attention matched plain scoring (checked on
first use in the process; when it does not, the cached prefix tree is used)."""


def score_groups(
    model: torch.nn.Module,
    groups: Sequence[AnswerGroup],
    *,
    batch_size: int,
    pad_id: int,
    counters: ScoringCounters,
) -> list[list[SampleStatistics]]:
    """Statistics of every answer of every group (same nesting): shared prefixes run once when the model allows."""
    if not groups:
        return []
    if any(not g.prompt for g in groups):
        return score_plain(model, groups, batch_size=batch_size, pad_id=pad_id, counters=counters)
    from unlearn_core.evaluation.packed import PackedScorer, PackingUnsupported, supports_packing

    implementation = getattr(getattr(model, "config", None), "_attn_implementation", None)
    kind = (type(model), implementation, next(model.parameters()).dtype)
    if supports_packing(model) and PACKING.get(kind, True):
        try:
            scored = PackedScorer(model, pad_id, batch_size, counters, check=kind not in PACKING).score(list(groups))
        except PackingUnsupported:
            PACKING[kind] = False
        else:
            PACKING[kind] = True
            return scored
    if not model_calls.supports_shared_prefix(model):
        return score_plain(model, groups, batch_size=batch_size, pad_id=pad_id, counters=counters)
    from unlearn_core.evaluation.prefix_tree import PrefixTreeScorer

    return PrefixTreeScorer(model, pad_id, batch_size, counters).score(list(groups))


def score_plain(
    model: torch.nn.Module,
    groups: Sequence[AnswerGroup],
    *,
    batch_size: int,
    pad_id: int,
    counters: ScoringCounters,
    kind: str = "full",
) -> list[list[SampleStatistics]]:
    """One right-padded forward per batch of full prompt + answer sequences (no shared prefix)."""
    items = [
        (g, a, Tokenized(group.prompt, answer, 0))
        for g, group in enumerate(groups)
        for a, answer in enumerate(group.answers)
    ]
    order = sorted(range(len(items)), key=lambda k: items[k][2].length)
    out: list[list[SampleStatistics | None]] = [[None] * len(g.answers) for g in groups]
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate([items[k][2] for k in chunk], pad_id)
            logits, _ = model_calls.run(model, batch["input_ids"].to(device), batch["attention_mask"].to(device))
            counters.add(kind, len(chunk), int(batch["attention_mask"].sum()))
            for k, st in zip(chunk, compute_sample_statistics(logits, batch["labels"].to(device))):
                out[items[k][0]][items[k][1]] = st
    return [[st for st in row if st is not None] for row in out]

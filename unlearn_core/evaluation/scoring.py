"""The fused likelihood pass: every answer scored after a prompt shares ONE prefill of that prompt.

A group is one prompt with every answer that any selected metric scores after it (the answer, the paraphrased
answer and each perturbed answer of a TOFU question). Per batch of groups the prompts are prefilled once (left
padded, position ids from the real lengths) and the answers run after the cached prompt, common answer beginnings
once (``prefix_tree``). Every statistic equals the one from a plain forward over prompt + answer, up to float
rounding. Models without a KV cache argument use :func:`score_plain`: one padded forward per batch of full
sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
    if not model_calls.supports_shared_prefix(model) or any(not g.prompt for g in groups):
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
            counters.add("full", len(chunk), int(batch["attention_mask"].sum()))
            for k, st in zip(chunk, compute_sample_statistics(logits, batch["labels"].to(device))):
                out[items[k][0]][items[k][1]] = st
    return [[st for st in row if st is not None] for row in out]

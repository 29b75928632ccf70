"""The plain likelihood pass: one right-padded forward over each full prompt + answer sequence. Every fused path
(``packed``, ``prefix_tree``) is checked against it; models without a KV cache or a tree mask use it directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from unlearn_core.chunked.statistics import projected_token_statistics
from unlearn_core.data import Tokenized, collate
from unlearn_core.evaluation import model_calls
from unlearn_core.metrics.statistics import SampleStatistics, gather_targets, samples_from_token_statistics


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
    tokens_by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, sequences: int, tokens: int) -> None:
        """Record one model call over ``sequences`` rows holding ``tokens`` real tokens."""
        self.model_calls += 1
        self.sequences += sequences
        self.tokens += tokens
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.tokens_by_kind[kind] = self.tokens_by_kind.get(kind, 0) + tokens


def score_plain(
    model: torch.nn.Module,
    groups: Sequence[AnswerGroup],
    *,
    batch_size: int,
    pad_id: int,
    counters: ScoringCounters,
    kind: str = "full",
) -> list[list[SampleStatistics]]:
    """One right-padded forward per batch of full prompt + answer sequences (no shared prefix); the head runs on the
    rows that predict a target only, chunk by chunk, when the model allows (``model_calls.head_projection``)."""
    items = [
        (g, a, Tokenized(group.prompt, answer, 0))
        for g, group in enumerate(groups)
        for a, answer in enumerate(group.answers)
    ]
    order = sorted(range(len(items)), key=lambda k: items[k][2].length)
    out: list[list[SampleStatistics | None]] = [[None] * len(g.answers) for g in groups]
    device = next(model.parameters()).device
    head = model_calls.head_projection(model)
    project, vocab = head if head is not None else (None, 0)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate([items[k][2] for k in chunk], pad_id)
            ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            scores, _ = model_calls.run(model, ids, mask, hidden=head is not None)
            counters.add(kind, len(chunk), int(batch["attention_mask"].sum()))
            rows, targets, counts = gather_targets(scores, batch["labels"].to(device))
            stats = projected_token_statistics(rows, project, targets, vocab_size=vocab)
            for k, st in zip(chunk, samples_from_token_statistics(stats, counts)):
                out[items[k][0]][items[k][1]] = st
    return [[st for st in row if st is not None] for row in out]

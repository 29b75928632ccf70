"""The fused likelihood pass: every answer scored after a prompt shares ONE run of that prompt.

A group is one prompt with every answer that any selected metric scores after it (the answer, the paraphrased
answer and each perturbed answer of a TOFU question). The prompt and the answers' common beginnings run once:
packed in one row with a tree attention mask (``packed``), or, for models that do not take such a mask, through
the KV cache (``prefix_tree``). Every statistic equals the one from a plain forward over prompt + answer, up to
float rounding; ``plain.score_plain`` is that plain forward (models without a KV cache argument use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from unlearn_core.evaluation import model_calls
from unlearn_core.evaluation.packed import PackedScorer, PackingUnsupported, supports_packing
from unlearn_core.evaluation.plain import AnswerGroup, ScoringCounters, score_plain
from unlearn_core.evaluation.prefix_tree import PrefixTreeScorer
from unlearn_core.metrics.statistics import SampleStatistics

__all__ = ["AnswerGroup", "ScoringCounters", "score_groups", "score_plain"]


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
    return PrefixTreeScorer(model, pad_id, batch_size, counters).score(list(groups))

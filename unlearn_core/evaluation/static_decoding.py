"""Greedy decoding of one batch through transformers' ``generate`` with a static KV cache (``generation.cache:
static``).

The cache is allocated once at its full length and every step has the same shapes, which is what lets transformers
compile the decoding step (it does so by itself on CUDA). Finished rows therefore stay in the batch until the last
one ends, unlike the dynamic loop of ``decoding``, which drops them; each row still stops at its own budget, EOS or
stop string (a stopping criterion), and keeps only its own tokens. The output is the same token sequence as the
dynamic loop's (up to float rounding in near-ties).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from unlearn_core.evaluation import model_calls

_Check = Callable[[Sequence[int]], bool]
"""``decoding.StopCheck`` (not imported: ``decoding`` imports this module)."""


def decode_batch_static(
    model: Any,
    prompts: list[Sequence[int]],
    budgets: list[int],
    checks: list[_Check | None],
    special: tuple[int, int | None],
    counters: Any,
) -> list[list[int]]:
    """Decode one batch of left-padded prompts with ``model.generate`` and a static cache; ``special`` is (pad id,
    EOS id); ``counters`` (``decoding.DecodingCounters``) records the model calls."""
    from transformers import StoppingCriteriaList  # the generate() machinery: loaded only on this path

    pad_id, eos_id = special
    ids, mask = model_calls.left_padded(prompts, pad_id, next(model.parameters()).device)
    width = ids.shape[1]
    done = _RowsDone(width, budgets, checks)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=max(budgets),
        do_sample=False,
        num_beams=1,
        cache_implementation="static",
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        stopping_criteria=StoppingCriteriaList([done]),
    )
    new = out[:, width:].tolist()
    counters.model_calls += len(new[0]) if new else 0
    counters.decoded_rows += len(prompts)
    return [_kept(tokens, budget, check, eos_id) for tokens, budget, check in zip(new, budgets, checks)]


def _kept(tokens: list[int], budget: int, check: _Check | None, eos_id: int | None) -> list[int]:
    """A row's own output: its tokens up to its budget, its EOS (kept) or the token that completed a stop string."""
    kept: list[int] = []
    for token in tokens[:budget]:
        kept.append(token)
        if token == eos_id or (check is not None and check(kept)):
            break
    return kept


class _RowsDone:
    """A stopping criterion: per row, whether it has its budget's tokens or its stop check fires (EOS is
    ``generate``'s own criterion; a row once done stays done)."""

    def __init__(self, width: int, budgets: list[int], checks: list[_Check | None]) -> None:
        self.width = width
        self.budgets = budgets
        self.checks = checks

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        rows = input_ids[:, self.width :].tolist()
        done = [
            len(tokens) >= budget or (check is not None and check(tokens))
            for tokens, budget, check in zip(rows, self.budgets, self.checks)
        ]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

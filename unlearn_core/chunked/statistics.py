"""The evaluation's per-token statistics from hidden rows, the head applied chunk by chunk (no gradient)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from unlearn_core.chunked.deferred import chunk_rows
from unlearn_core.metrics.statistics import TokenStatistics, token_statistics


def projected_token_statistics(
    rows: torch.Tensor,
    project: Callable[[torch.Tensor], torch.Tensor] | None,
    targets: torch.Tensor,
    z_rows: torch.Tensor | None = None,
    vocab_size: int = 0,
    size: int | None = None,
) -> TokenStatistics:
    """``token_statistics`` of the logit rows ``project(rows)`` (``rows``: hidden ``[N, H]``), computed over chunks
    of at most ``size`` rows (``chunk_rows(vocab_size)`` by default); ``project=None``: ``rows`` are logits already."""
    if project is None:
        return token_statistics(rows, targets, z_rows)
    size = size or chunk_rows(vocab_size)
    with torch.no_grad():
        parts = [
            token_statistics(
                project(rows[start : start + size]),
                targets[start : start + size],
                None if z_rows is None else z_rows[start : start + size],
            )
            for start in range(0, max(1, rows.shape[0]), size)
        ]
    return tuple(torch.cat(values) for values in zip(*parts))  # type: ignore[return-value]

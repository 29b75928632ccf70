"""A causal LM small enough to compute losses by hand, for the golden tests of the method plugins."""

from __future__ import annotations

from types import SimpleNamespace

import torch


class TableModel(torch.nn.Module):
    """A causal LM whose logits at a position depend only on the input token there: row ``table[token]``, read as
    next-token probabilities (the logits are their logs) or, with ``probabilities=False``, as the logits themselves.
    The table is a trainable embedding, so gradients reach it."""

    def __init__(self, table: list[list[float]], *, probabilities: bool = True) -> None:
        super().__init__()
        rows = torch.tensor(table)
        self.embed = torch.nn.Embedding(*rows.shape)
        with torch.no_grad():
            self.embed.weight.copy_(rows.log() if probabilities else rows)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> SimpleNamespace:
        return SimpleNamespace(logits=self.embed(input_ids))

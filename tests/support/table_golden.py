"""The hand-computed setting the method plugins' golden tests share: a three-token vocabulary where the model's
(``P``) and the reference's (``R``) next-token probabilities depend only on the current token
(``support.table_model.TableModel``), a retain row, and the losses on it worked out by hand."""

from __future__ import annotations

import math

import torch

from support.table_model import TableModel

P = [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.25, 0.25, 0.5]]  # model: next-token probabilities after token 0, 1, 2
R = [[1 / 3, 1 / 3, 1 / 3], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]]  # reference model

# retain targets: after 1 -> 0 (0.1), after 0 -> 2 (0.2); position 0 (token 2) is prompt and must not count in KL
RETAIN = {
    "input_ids": torch.tensor([[2, 1, 0, 2]]),
    "attention_mask": torch.tensor([[1, 1, 1, 1]]),
    "labels": torch.tensor([[-100, -100, 0, 2]]),
    "index": torch.tensor([5]),
}
CE_RETAIN = -(math.log(0.1) + math.log(0.2)) / 2


def kl(p: list[float], q: list[float]) -> float:
    """KL(p || q)."""
    return sum(pv * math.log(pv / qv) for pv, qv in zip(p, q))


KL_RETAIN = (kl(R[1], P[1]) + kl(R[0], P[0])) / 2
"""KL(reference || model) at the two answer positions (after 1, after 0), averaged."""
KL_EVERY_POSITION = (2 * kl(R[2], P[2]) + kl(R[1], P[1]) + kl(R[0], P[0])) / 4
"""The same over all four positions (open-unlearning's KL counts the prompt and the padding too)."""


class TableReference:
    """The frozen reference model ``R`` as a method sees it (``logits``), counting the calls so that tests can check
    which methods read it; plugins' tests subclass it for their cached log-probs."""

    def __init__(self) -> None:
        self.model = TableModel(R)
        self.logits_calls = 0

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.logits_calls += 1
        with torch.no_grad():
            return self.model(batch["input_ids"]).logits

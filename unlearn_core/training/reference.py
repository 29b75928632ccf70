"""What methods compare against: cached reference log-probs of the forget set and a frozen reference model."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from unlearn_core.data import Tokenized, collate
from unlearn_core.losses import model_logits, sequence_nll


class FrozenReference:
    """Implements ``unlearn_core.Reference`` for the runner.

    Forget log-probs are computed once, with the initial weights, before the first update, and looked up by sample
    index; a frozen copy of the model is kept only when the method asks for reference logits (KL retain loss).
    """

    def __init__(self, model: torch.nn.Module | None = None) -> None:
        self._model = model
        self._forget_logprobs: dict[int, float] = {}

    @classmethod
    def build(
        cls,
        model: torch.nn.Module,
        forget: Sequence[Tokenized],
        *,
        need_logprobs: bool,
        need_model: bool,
        batch_size: int,
        pad_id: int,
        device: torch.device,
        cached_logprobs: dict[int, float] | None = None,
    ) -> FrozenReference:
        """Snapshot what the method needs from ``model`` before training starts.

        ``cached_logprobs`` (from a checkpoint, when resuming) are used instead of recomputing when they cover the
        forget set.
        """
        frozen = None
        if need_model:
            frozen = copy.deepcopy(model).eval()
            frozen.requires_grad_(False)
        ref = cls(frozen)
        if need_logprobs and cached_logprobs and {s.index for s in forget} <= set(cached_logprobs):
            ref._forget_logprobs = dict(cached_logprobs)
        elif need_logprobs:
            with torch.no_grad():
                for start in range(0, len(forget), batch_size):
                    batch = {k: v.to(device) for k, v in collate(forget[start : start + batch_size], pad_id).items()}
                    nll, _ = sequence_nll(model_logits(model, batch), batch["labels"])
                    for i, value in zip(batch["index"].tolist(), (-nll).tolist()):
                        ref._forget_logprobs[i] = value
        return ref

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cached ``log pi_ref(y|x)`` for the samples of a forget batch."""
        values = [self._forget_logprobs[i] for i in batch["index"].tolist()]
        return torch.tensor(values, dtype=torch.float32, device=batch["input_ids"].device)

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the frozen starting model (no gradient)."""
        if self._model is None:
            raise RuntimeError("this method did not declare needs_reference_model(); no reference model was kept")
        with torch.no_grad():
            return model_logits(self._model, batch)

    def state(self) -> dict[str, float]:
        """The cached log-probs keyed by sample index (saved with checkpoints)."""
        return dict(self._forget_logprobs)

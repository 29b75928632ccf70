"""Tokenised samples and padded batches (the token rules that make them are in ``token_rules``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Tokenized:
    """One sample: prompt ids (never trained on) followed by target ids (answer, end tag and EOS).

    ``extras`` are other answers of the same row by field name (an "I don't know" answer, a paraphrase), each a
    sample of its own with the same ``index``; methods read them through ``UnlearningMethod.forget_fields()``.
    """

    prompt_ids: tuple[int, ...]
    target_ids: tuple[int, ...]
    index: int
    extras: tuple[tuple[str, Tokenized], ...] = ()

    @property
    def length(self) -> int:
        """Total sequence length."""
        return len(self.prompt_ids) + len(self.target_ids)

    @property
    def extra_names(self) -> tuple[str, ...]:
        """Names of the extra answers this sample carries."""
        return tuple(name for name, _ in self.extras)

    def extra(self, name: str) -> Tokenized:
        """The extra answer ``name`` (a KeyError naming the ones there are when it is missing)."""
        for key, sample in self.extras:
            if key == name:
                return sample
        has = ", ".join(self.extra_names) or "none"
        raise KeyError(f"sample {self.index} has no extra answer '{name}' (it has: {has})")

    def with_extras(self, extras: Mapping[str, Tokenized]) -> Tokenized:
        """A copy carrying ``extras`` (by field name) besides the ones it has."""
        return replace(self, extras=(*self.extras, *extras.items()))


def renumber(samples: Sequence[Tokenized], start: int = 0) -> list[Tokenized]:
    """The same samples indexed ``start``, ``start + 1``, ... (samples concatenated from several sources must
    not share an index: cached reference values are looked up by it)."""
    return [_reindexed(s, start + i) for i, s in enumerate(samples)]


def _reindexed(sample: Tokenized, index: int) -> Tokenized:
    extras = tuple((name, replace(extra, index=index)) for name, extra in sample.extras)
    return replace(sample, index=index, extras=extras)


def collate(samples: Sequence[Tokenized], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch with labels (-100 on prompt and padding) and a mask built from real lengths."""
    import torch

    width = max(s.length for s in samples)
    input_ids = torch.full((len(samples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(samples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(samples), width), dtype=torch.long)
    for row, s in enumerate(samples):
        ids = s.prompt_ids + s.target_ids
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, len(s.prompt_ids) : len(ids)] = torch.tensor(s.target_ids)
        mask[row, : len(ids)] = 1
    index = torch.tensor([s.index for s in samples], dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels, "index": index}


def collate_prompts(prompts: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-padded prompts for batched generation, mask from real lengths."""
    import torch

    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, p in enumerate(prompts):
        if p:
            input_ids[row, width - len(p) :] = torch.tensor(list(p))
            mask[row, width - len(p) :] = 1
    return {"input_ids": input_ids, "attention_mask": mask}

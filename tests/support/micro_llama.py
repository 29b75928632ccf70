"""Randomly initialised small Llamas for tests (one builder, any shape), and a one-layer Llama of 32 tokens with a
two-row batch of it for the method plugins' end-to-end loss checks."""

from __future__ import annotations

from typing import Any

import torch


def random_llama(seed: int = 0, **shape: Any) -> Any:
    """A ``LlamaForCausalLM`` drawn after ``torch.manual_seed(seed)``: hidden size 16, intermediate 32, two heads
    (two key-value heads), unless ``shape`` (any ``LlamaConfig`` field) says otherwise."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    defaults = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 2}
    return LlamaForCausalLM(LlamaConfig(**{**defaults, **shape}))


def micro_llama_and_batch(seed: int = 0) -> tuple[Any, dict[str, torch.Tensor]]:
    """A random one-layer Llama (vocabulary 32; :func:`random_llama` with ``seed``) and two rows of 6 ids: the
    second ends in 2 padding positions, and the first 2 positions of each are prompt (label -100)."""
    model = random_llama(seed, vocab_size=32, num_hidden_layers=1, max_position_embeddings=32)
    ids = torch.randint(0, 32, (2, 6))
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :2] = -100
    return model, {"input_ids": ids, "attention_mask": mask, "labels": labels}

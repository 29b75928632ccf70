"""A tiny random Llama with a tokenizer trained on given texts: for testing metrics and the engine in seconds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from unlearn_core.models.tiny import TinyLlamaSize, build_tiny_llama, train_tokenizer

TINY_SIZE = TinyLlamaSize(
    vocab_size=400,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    max_position_embeddings=256,
)
TINY_TEMPLATE = {
    "apply_chat_template": False,
    "system_prompt": None,
    "user_start_tag": "Question: ",
    "user_end_tag": "\n",
    "asst_start_tag": "Answer: ",
    "asst_end_tag": "",
    "date_string": None,
}


def texts_of(data: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    """Every string (and list item) of every row, for training the tokenizer."""
    for rows in data.values():
        for row in rows:
            for value in row.values():
                yield from (value if isinstance(value, list) else [value])


def tiny_model_and_tokenizer(corpus: Iterable[str], seed: int = 0, weight_std: float = 0.2) -> tuple[Any, Any]:
    """A BPE tokenizer trained on ``corpus`` and a random tiny Llama for it (in eval mode).

    Weight matrices are drawn with ``weight_std`` (larger than the usual 0.02) so the next-token distributions are
    peaked rather than almost uniform, as in a trained model; float rounding then stays far below 1e-4 relative.
    """
    tokenizer = train_tokenizer(list(corpus), TINY_SIZE.vocab_size)
    model = build_tiny_llama(tokenizer, TINY_SIZE, seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * weight_std)
    return model.eval(), tokenizer

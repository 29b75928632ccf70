"""A forward pass that stops before the output head: the final hidden states and the head that makes logits of them.

``model_output(model, batch)`` runs the model through whatever wraps it (DDP, a DeepSpeed engine, a PEFT model), so
gradient synchronisation and hooks work as in any forward, but asks the model for the last position's logits only
(``logits_to_keep=1``) and captures the decoder's final hidden states with a forward hook. It returns the full logits
instead when the model cannot be split that way (no ``logits_to_keep``, a soft-capped head, a decoder that is the
model itself), when its parameters are ZeRO-3 partitions (every extra call of the head would be one more collective
gather, and processes with different sequence lengths would make different numbers of them), or when chunking is off.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from unlearn_core.distributed import is_partitioned
from unlearn_core.hidden_states import unwrap

CHUNK_ENV = "UNLEARN_LOGITS_CHUNK_MB"
DEFAULT_CHUNK_MB = 64.0
MIN_CHUNK_ROWS = 16


def chunk_megabytes() -> float:
    """The float32 size of one chunk of logits in MiB (``UNLEARN_LOGITS_CHUNK_MB``; 0: chunking off)."""
    raw = os.environ.get(CHUNK_ENV, "").strip()
    if not raw:
        return DEFAULT_CHUNK_MB
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{CHUNK_ENV} must be a number of MiB (0 turns chunking off), got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{CHUNK_ENV} must not be negative, got {raw!r}")
    return value


def chunking_enabled() -> bool:
    """Whether losses and statistics run on chunks of rows (``UNLEARN_LOGITS_CHUNK_MB`` is not 0)."""
    return chunk_megabytes() > 0


def chunk_rows(vocab_size: int) -> int:
    """Rows of logits per chunk: as many float32 rows of ``vocab_size`` as fit in the chunk size, at least 16."""
    size = int(chunk_megabytes() * 2**20) // (4 * max(1, vocab_size))
    return max(MIN_CHUNK_ROWS, size)


@dataclass
class DeferredLogits:
    """Logits not computed yet: hidden states ``[B, T, H]`` and the projection that turns rows of them into logits.

    ``weight``/``bias`` are set when the head is a plain linear layer (the fast path: an autograd function that
    takes them as inputs); otherwise ``project`` (a module call: a LoRA-wrapped or quantised head) is recomputed per
    chunk by activation checkpointing.
    """

    hidden: torch.Tensor
    project: Callable[[torch.Tensor], torch.Tensor]
    vocab_size: int
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None

    def logits(self) -> torch.Tensor:
        """The full logits ``[B, T, V]`` (for tests and the unchunked reference path)."""
        return self.project(self.hidden)

    def rows(self, mask: torch.Tensor) -> DeferredLogits:
        """The same head over the hidden rows where ``mask`` ``[B, T]`` is true, as ``[N, H]``."""
        return DeferredLogits(self.hidden[mask], self.project, self.vocab_size, self.weight, self.bias)


@lru_cache(maxsize=32)
def _takes_logits_to_keep(model_type: type) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(model_type.forward).parameters
    except (TypeError, ValueError):
        return False


def head_of(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module, int] | None:
    """``(decoder, output head, vocabulary size)`` of a model whose forward can stop before its head; None when it
    cannot."""
    lm = unwrap(model)
    config = getattr(lm, "config", None)
    if is_partitioned(lm) or getattr(config, "final_logit_softcapping", None) or not _takes_logits_to_keep(type(lm)):
        return None
    get_decoder, get_head = getattr(lm, "get_decoder", None), getattr(lm, "get_output_embeddings", None)
    if not callable(get_decoder) or not callable(get_head):
        return None
    decoder, head = get_decoder(), get_head()
    if decoder is None or head is None or decoder is lm:
        return None
    vocab = getattr(head, "out_features", None) or getattr(config, "vocab_size", None)
    return (decoder, head, int(vocab)) if vocab else None


def deferred_from(hidden: torch.Tensor, head: torch.nn.Module, vocab_size: int) -> DeferredLogits:
    """A ``DeferredLogits`` of ``hidden`` under ``head`` (its weight and bias kept when it is a plain linear layer)."""
    plain = type(head) is torch.nn.Linear
    return DeferredLogits(hidden, head, vocab_size, head.weight if plain else None, head.bias if plain else None)


@contextlib.contextmanager
def final_hidden_states(decoder: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Inside, each forward of ``decoder`` appends its final hidden states ``[B, T, H]`` to the yielded list."""
    captured: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, inputs: Any, output: Any) -> None:
        hidden = getattr(output, "last_hidden_state", None)
        captured.append(hidden if hidden is not None else output[0])

    handle = decoder.register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()


def model_output(
    model: torch.nn.Module, batch: Mapping[str, torch.Tensor], **kwargs: Any
) -> torch.Tensor | DeferredLogits:
    """Run ``model`` on ``batch`` (input_ids, attention_mask; ``kwargs`` go to the forward): a ``DeferredLogits`` when
    chunking is on and the model allows it, else the full logits ``[B, T, V]``."""
    found = head_of(model) if chunking_enabled() else None
    call = {"input_ids": batch["input_ids"], "attention_mask": batch.get("attention_mask"), **kwargs}
    if found is None:
        return model(**call).logits
    decoder, head, vocab = found
    with final_hidden_states(decoder) as captured:
        model(**call, logits_to_keep=1)
    return deferred_from(captured[-1], head, vocab)

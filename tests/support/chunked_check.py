"""A method's loss with chunked log-probabilities against the whole logits, for the method plugins' tests: the same
loss, terms, stats and gradients within 1e-5 on a one-layer Llama with a 32k vocabulary."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from unlearn_core import FORGET_FIELD, losses
from unlearn_core.chunked.deferred import CHUNK_ENV

VOCAB = 32000


def tiny_llama(seed: int) -> torch.nn.Module:
    """A randomly initialised one-layer Llama with a 32k vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config).eval()


def part(seed: int) -> dict[str, torch.Tensor]:
    """Three rows of 20 tokens: a prompt of 6 (-100), the last row's answer shorter, and row indices."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (3, 20), generator=g)
    labels = ids.clone()
    labels[:, :6] = -100
    labels[2, 14:] = -100
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels, "index": torch.arange(3)}


class FrozenReference:
    """A frozen model as the runner's reference gives it: logits, chunked output and the sequence log-probs of
    ``cached`` parts (by field name), computed once as the runner caches them before training."""

    def __init__(self, model: torch.nn.Module, cached: dict[str, dict[str, torch.Tensor]]) -> None:
        self.model = model
        with torch.no_grad():
            self.cached = {
                field: -losses.sequence_nll(losses.model_logits(model, rows), rows["labels"])[0]
                for field, rows in cached.items()
            }

    def logprobs(self, batch: dict[str, torch.Tensor], field: str = FORGET_FIELD) -> torch.Tensor:
        return self.cached[field][batch["index"]]

    def forget_logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.logprobs(batch, FORGET_FIELD)

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return losses.model_logits(self.model, batch)

    def output(self, batch: dict[str, torch.Tensor]) -> object:
        with torch.no_grad():
            return losses.model_output(self.model, batch)


def assert_chunked_equals_whole_logits(
    method: Any, monkeypatch: pytest.MonkeyPatch, fields: dict[str, dict[str, torch.Tensor]] | None = None
) -> None:
    """``method.compute_loss`` on a forget and a retain part (and the forget ``fields``) with chunks of 16 rows and
    with the whole logits: the same loss, terms, stats and gradients. The model starts a little away from the
    reference (another seed) so that every term is non-trivial."""
    model = tiny_llama(0)
    batch: dict[str, Any] = {"forget": part(1), "retain": part(2), "forget_fields": fields or {}}
    reference = FrozenReference(tiny_llama(3), {FORGET_FIELD: batch["forget"], **batch["forget_fields"]})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    results = []
    for setting in ("0", "0.01"):
        monkeypatch.setenv(CHUNK_ENV, setting)
        model.zero_grad(set_to_none=True)
        out = method.compute_loss(model, batch, reference)
        out.loss.backward()
        results.append((out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (full, full_grads), (chunked, chunked_grads) = results
    assert full.loss.item() != 0.0
    assert chunked.loss.item() == pytest.approx(full.loss.item(), abs=1e-5)
    for key in full.terms:
        assert chunked.terms[key] == pytest.approx(full.terms[key], abs=1e-5), key
    for key in full.stats:
        assert chunked.stats[key] == pytest.approx(full.stats[key], rel=1e-5), key
    assert full_grads.keys() == chunked_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(chunked_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)

"""DPO and IdkNLL give the same losses and gradients with chunked log-probabilities as with the whole logits, on a
Llama with a 32k vocabulary (``UNLEARN_LOGITS_CHUNK_MB=0`` is the whole-logits path)."""

from __future__ import annotations

import pytest
import torch
from unlearn_dpo.methods import ALTERNATE, DPO, IdkNLL

from unlearn_core import FORGET_FIELD, losses

VOCAB = 32000


def tiny_llama(seed: int) -> torch.nn.Module:
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
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (3, 20), generator=g)
    labels = ids.clone()
    labels[:, :6] = -100
    labels[2, 14:] = -100
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels, "index": torch.arange(3)}


class Reference:
    """A frozen model, with the sequence log-probs of both answers cached as the runner does before training."""

    def __init__(self, model: torch.nn.Module, forget: dict, alternate: dict) -> None:
        self.model = model
        with torch.no_grad():
            self.cached = {
                field: -losses.sequence_nll(losses.model_logits(model, rows), rows["labels"])[0]
                for field, rows in ((FORGET_FIELD, forget), (ALTERNATE, alternate))
            }

    def logprobs(self, batch: dict[str, torch.Tensor], field: str) -> torch.Tensor:
        return self.cached[field][batch["index"]]

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return losses.model_logits(self.model, batch)

    def output(self, batch: dict[str, torch.Tensor]) -> object:
        with torch.no_grad():
            return losses.model_output(self.model, batch)


@pytest.mark.parametrize(
    "method", [DPO(), DPO(retain_loss_type="KL", beta=0.5), IdkNLL()], ids=["dpo", "dpo-kl", "idk"]
)
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_llama(0)
    batch = {"forget": part(1), "retain": part(2), "forget_fields": {ALTERNATE: part(4)}}
    reference = Reference(tiny_llama(3), batch["forget"], batch["forget_fields"][ALTERNATE])
    with torch.no_grad():  # move the model away from the reference so every term is non-trivial
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    results = []
    for setting in ("0", "0.01"):
        monkeypatch.setenv("UNLEARN_LOGITS_CHUNK_MB", setting)
        model.zero_grad(set_to_none=True)
        out = method.compute_loss(model, batch, reference)  # type: ignore[attr-defined]
        out.loss.backward()
        results.append((out, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (full, full_grads), (chunked, chunked_grads) = results
    assert full.loss.item() != 0.0
    assert chunked.loss.item() == pytest.approx(full.loss.item(), abs=1e-5)
    for key in full.terms:
        assert chunked.terms[key] == pytest.approx(full.terms[key], abs=1e-5)
    for name, grad in full_grads.items():
        torch.testing.assert_close(chunked_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)

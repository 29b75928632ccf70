"""PDU gives the same losses and gradients with chunked log-probabilities as with the whole logits,
on a Llama with a 32k vocabulary (``UNLEARN_LOGITS_CHUNK_MB=0`` is the whole-logits path)."""

from __future__ import annotations

import pytest
import torch
from unlearn_pdu.method import PDU

from unlearn_core import losses

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
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


class Reference:
    """A frozen model: its logits and chunked output, as the runner's reference gives them."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return losses.model_logits(self.model, batch)

    def output(self, batch: dict[str, torch.Tensor]) -> object:
        with torch.no_grad():
            return losses.model_output(self.model, batch)


@pytest.mark.parametrize(
    "method",
    [PDU(retain_loss_eps=0.5), PDU(retain_loss_eps=0.5, retain_loss_type="KL", gamma=2.0)],
    ids=["pdu", "pdu-kl"],
)
def test_chunked_equals_whole_logits(method: object, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_llama(0)
    batch = {"forget": part(1), "retain": part(2)}
    reference = Reference(tiny_llama(3))
    results = []
    for setting in ("0", "0.01"):
        monkeypatch.setenv("UNLEARN_LOGITS_CHUNK_MB", setting)
        model.zero_grad(set_to_none=True)
        out = method.compute_loss(model, batch, reference)  # type: ignore[attr-defined]
        out.loss.backward()
        results.append((out, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (full, full_grads), (chunked, chunked_grads) = results
    assert full.terms["forget_loss"] != 0.0
    assert chunked.loss.item() == pytest.approx(full.loss.item(), abs=1e-5)
    for key in full.terms:
        assert chunked.terms[key] == pytest.approx(full.terms[key], abs=1e-5)
    for key in full.stats:
        assert chunked.stats[key] == pytest.approx(full.stats[key], rel=1e-5)
    for name, grad in full_grads.items():
        torch.testing.assert_close(chunked_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)

"""Chunked log-probabilities against the full-logits path: every loss primitive and every evaluation statistic agree
within 1e-5 on a model with a 32k vocabulary (values and gradients), and no ``[B, T, V]`` tensor is ever made."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from unlearn_core import losses
from unlearn_core.chunked.deferred import CHUNK_ENV, DeferredLogits, chunk_rows, model_output
from unlearn_core.chunked.functions import TargetLogprob, row_terms
from unlearn_core.chunked.statistics import projected_token_statistics
from unlearn_core.metrics.statistics import token_statistics

VOCAB = 32000
TOL = 1e-5


def tiny_llama(seed: int, tied: bool = False) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=tied,
    )
    return LlamaForCausalLM(config).eval()


def batch(seed: int = 0, rows: int = 3, length: int = 24) -> dict[str, torch.Tensor]:
    """Right-padded rows with a prompt (-100) of 5 tokens and different answer lengths."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (rows, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, length - 6 :] = 0
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :5] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 16 rows (the minimum): every batch here spans several chunks."""
    monkeypatch.setenv(CHUNK_ENV, "0.01")


def grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def both_paths(model: torch.nn.Module, loss_of: object) -> tuple[tuple[torch.Tensor, dict], tuple[torch.Tensor, dict]]:
    """``loss_of(output)`` and the gradients, with the full logits and with DeferredLogits."""
    results = []
    for chunked in (False, True):
        model.zero_grad(set_to_none=True)
        b = batch()
        output = model_output(model, b) if chunked else losses.model_logits(model, b)
        assert isinstance(output, DeferredLogits) == chunked
        value = loss_of(output, b)  # type: ignore[operator]
        value.sum().backward()
        results.append((value.detach(), grads(model)))
    return results[0], results[1]


def assert_same(full: tuple[torch.Tensor, dict], chunked: tuple[torch.Tensor, dict]) -> None:
    torch.testing.assert_close(chunked[0], full[0], atol=TOL, rtol=TOL)
    assert full[1].keys() == chunked[1].keys()
    for name in full[1]:
        torch.testing.assert_close(chunked[1][name], full[1][name], atol=TOL, rtol=1e-4, msg=name)


@pytest.mark.parametrize("tied", [False, True])
def test_sequence_nll_and_counts_agree(tied: bool) -> None:
    model = tiny_llama(0, tied)
    full, chunked = both_paths(model, lambda out, b: losses.sequence_nll(out, b["labels"])[0])
    assert_same(full, chunked)
    b = batch()
    _, counts_full = losses.sequence_nll(losses.model_logits(model, b), b["labels"])
    _, counts_chunked = losses.sequence_nll(model_output(model, b), b["labels"])
    assert counts_full.tolist() == counts_chunked.tolist() == [19, 13, 19]


@pytest.mark.parametrize("count", [None, 100.0])
def test_mean_token_nll_agrees(count: float | None) -> None:
    full, chunked = both_paths(tiny_llama(1), lambda out, b: losses.mean_token_nll(out, b["labels"], count))
    assert_same(full, chunked)


@pytest.mark.parametrize("count", [None, 60.0])
def test_kl_to_a_reference_agrees(count: float | None) -> None:
    model, reference = tiny_llama(2), tiny_llama(3)

    def kl(out: object, b: dict) -> torch.Tensor:
        with torch.no_grad():
            ref = model_output(reference, b) if isinstance(out, DeferredLogits) else losses.model_logits(reference, b)
        return losses.kl_on_targets(ref, out, b["labels"], count)  # type: ignore[arg-type]

    full, chunked = both_paths(model, kl)
    assert_same(full, chunked)
    assert float(full[0]) > 0.01  # two different models: a real divergence


def test_kl_with_full_reference_logits_and_deferred_model_agrees() -> None:
    """A reference that can only give logits (ZeRO-3 partitions) with a chunked model."""
    model, reference = tiny_llama(4), tiny_llama(5)
    b = batch()
    with torch.no_grad():
        ref_logits = losses.model_logits(reference, b)
    full = losses.kl_on_targets(ref_logits, losses.model_logits(model, b), b["labels"])
    chunked = losses.kl_on_targets(ref_logits, model_output(model, b), b["labels"])
    torch.testing.assert_close(chunked, full, atol=TOL, rtol=TOL)


class _Reference:
    """The runner's reference for a frozen model: output and logits without gradient."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def logits(self, b: dict) -> torch.Tensor:
        with torch.no_grad():
            return losses.model_logits(self.model, b)

    def output(self, b: dict) -> object:
        with torch.no_grad():
            return model_output(self.model, b)


@pytest.mark.parametrize("kind", ["NLL", "KL"])
def test_retain_losses_agree_with_chunking_off(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model, reference = tiny_llama(6), _Reference(tiny_llama(7))
    values = []
    for setting in ("0", "0.01"):
        monkeypatch.setenv(CHUNK_ENV, setting)
        model.zero_grad(set_to_none=True)
        loss = losses.retain_loss(kind, model, batch(1), reference, 40.0)  # type: ignore[arg-type]
        loss.backward()
        values.append((loss.detach(), grads(model)))
    assert_same(values[0], values[1])


def test_generic_head_path_agrees_with_the_linear_one() -> None:
    """A head that is not a plain Linear (a LoRA-wrapped or quantised one) is recomputed by checkpointing."""
    model = tiny_llama(8)
    head = model.lm_head
    b = batch()
    hidden = model.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
    rows = hidden[:, :-1][b["labels"][:, 1:] != -100]
    targets = b["labels"][:, 1:][b["labels"][:, 1:] != -100]
    out = []
    for fast in (True, False):
        model.zero_grad(set_to_none=True)
        source = DeferredLogits(rows, head, VOCAB, head.weight if fast else None, head.bias)
        value = row_terms(source, TargetLogprob(targets), size=7)
        value.sum().backward(retain_graph=True)
        out.append((value.detach(), grads(model)))
    assert_same(out[0], out[1])


class _Largest(TorchDispatchMode):
    """The element count of the largest tensor any operation makes (views excluded), forward and backward."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not t._is_view():
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("setting", ["0", "0.01"])
def test_no_batch_by_length_by_vocabulary_tensor_when_chunked(setting: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With chunking the largest tensor of an NLL + KL step is one chunk of logits (or the vocabulary-sized weights),
    well under ``B x T x V``; with chunking off (the check can fail) it is the whole logits."""
    monkeypatch.setenv(CHUNK_ENV, setting)
    model, reference = tiny_llama(9), _Reference(tiny_llama(10))
    b = batch(2, rows=4, length=40)
    whole = 4 * 40 * VOCAB
    with _Largest() as seen:
        out = losses.model_output(model, b)
        loss = losses.sequence_nll(out, b["labels"])[0].sum() + losses.retain_loss("KL", model, b, reference)  # type: ignore[arg-type]
        loss.backward()
    if setting == "0":
        assert seen.largest >= whole
    else:
        assert seen.largest <= max(chunk_rows(VOCAB) * VOCAB, VOCAB * 32) < whole / 4


def test_projected_statistics_equal_the_full_ones() -> None:
    """Target log-prob, argmax hit, Min-K%++ z and argmax id per row, over chunks of 5 rows."""
    torch.manual_seed(11)
    head = torch.nn.Linear(16, VOCAB, bias=False)
    rows = torch.randn(23, 16)
    targets = torch.randint(0, VOCAB, (23,))
    targets[3] = int((rows[3] @ head.weight.t()).argmax())  # one argmax hit
    z_rows = torch.rand(23) > 0.3
    with torch.no_grad():
        full = token_statistics(head(rows), targets, z_rows)
    chunked = projected_token_statistics(rows, head, targets, z_rows, VOCAB, size=5)
    for a, b in zip(full, chunked):
        torch.testing.assert_close(b, a, atol=TOL, rtol=TOL, equal_nan=True)
    assert bool(chunked[1][3]) and int(chunked[1].sum()) >= 1


def _groups() -> list:
    from unlearn_core.evaluation.scoring import AnswerGroup

    g = torch.Generator().manual_seed(12)

    def tokens(n: int) -> tuple[int, ...]:
        return tuple(torch.randint(3, VOCAB, (n,), generator=g).tolist())

    shared = tokens(4)
    return [
        AnswerGroup(tokens(6), (shared + tokens(5), shared + tokens(3), tokens(7)), (True, False, True)),
        AnswerGroup(tokens(3), (tokens(1), tokens(9))),
        AnswerGroup(tokens(8), (shared + tokens(2),)),
    ]


@pytest.mark.parametrize("scorer", ["plain", "packed", "prefix_tree"])
def test_every_scorer_gives_the_full_logits_statistics(scorer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """avg_loss, nll_sum, token log-probs, argmax hits and ids, Min-K%++ z: chunked as with the whole logits."""
    from unlearn_core.evaluation.packed import PackedScorer
    from unlearn_core.evaluation.prefix_tree import PrefixTreeScorer
    from unlearn_core.evaluation.scoring import ScoringCounters, score_plain

    model = tiny_llama(13)
    results = []
    for setting in ("0", "0.01"):
        monkeypatch.setenv(CHUNK_ENV, setting)
        if scorer == "plain":
            results.append(score_plain(model, _groups(), batch_size=2, pad_id=0, counters=ScoringCounters()))
        else:
            kind = PackedScorer if scorer == "packed" else PrefixTreeScorer
            results.append(kind(model, 0, 2, ScoringCounters()).score(_groups()))  # type: ignore[operator]
    for full_group, chunked_group in zip(*results):
        for full, chunked in zip(full_group, chunked_group):
            assert chunked.num_targets == full.num_targets
            assert abs(chunked.avg_loss - full.avg_loss) < TOL and abs(chunked.nll_sum - full.nll_sum) < 1e-4
            torch.testing.assert_close(chunked.token_logprobs, full.token_logprobs, atol=TOL, rtol=TOL)
            assert torch.equal(chunked.argmax_hits, full.argmax_hits)
            assert torch.equal(chunked.argmax_ids, full.argmax_ids)
            assert (chunked.minkpp_z is None) == (full.minkpp_z is None)
            if full.minkpp_z is not None:
                torch.testing.assert_close(chunked.minkpp_z, full.minkpp_z, atol=1e-4, rtol=1e-4)

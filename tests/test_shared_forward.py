"""The fast forwards the runner offers methods (``unlearn_core.shared_forward``) give the losses, gradients and
logits of one plain forward per part, on a tiny random Llama; the runner passes the run's setting to methods."""

from __future__ import annotations

import copy
import itertools
import random

import pytest
import torch
from unlearn_gradascent.methods import GradDiff
from unlearn_npo.methods import NPO, SimNPO

from unlearn_core.config import resolve_config
from unlearn_core.config.defaults import TRAINER_ARGS
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.losses import mean_token_nll, model_logits, sequence_nll
from unlearn_core.models.tiny import TinyLlamaSize, build_tiny_llama
from unlearn_core.pipeline.environment import get_accelerator, seed_everything
from unlearn_core.plugins import load_plugins
from unlearn_core.shared_forward import FORWARD_KEY, FORWARD_MODES, ForwardSettings, part_logits, part_outputs
from unlearn_core.training.batches import ForgetRetainBatches
from unlearn_core.training.loop import train

SIZE = TinyLlamaSize(
    vocab_size=50,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    max_position_embeddings=64,
)
SETTINGS = [ForwardSettings(mode, only) for mode, only in itertools.product(FORWARD_MODES, (False, True))]


class _Tokenizer:
    """What ``build_tiny_llama`` reads of a tokenizer."""

    vocab_size = SIZE.vocab_size
    pad_token_id, bos_token_id, eos_token_id = 0, 1, 2

    def __len__(self) -> int:
        return SIZE.vocab_size


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    llama = build_tiny_llama(_Tokenizer(), SIZE, seed=0)
    with torch.no_grad():
        for parameter in llama.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0.0, 0.3)  # peaked next-token distributions, as in a trained model
    return llama.train()


def _part(lengths: list[int], prompts: list[int], seed: int) -> dict[str, torch.Tensor]:
    """A right-padded batch of rows of ``lengths`` real tokens, the first ``prompts`` of each without a label."""
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.randint(3, SIZE.vocab_size, (len(lengths), width), generator=g)
    mask = (torch.arange(width)[None] < torch.tensor(lengths)[:, None]).long()
    labels = ids.masked_fill(mask == 0, -100)
    for row, prompt in enumerate(prompts):
        labels[row, :prompt] = -100
    return {"input_ids": ids * mask, "attention_mask": mask, "labels": labels, "index": torch.arange(len(lengths))}


def _batch(settings: ForwardSettings | None = None) -> dict:
    batch = {"forget": _part([9, 5, 12], [3, 2, 6], 1), "retain": _part([7, 13, 4, 10], [2, 5, 1, 4], 2)}
    if settings is not None:
        batch[FORWARD_KEY] = settings
    return batch


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s.mode}-{'targets' if s.targets_only else 'all'}")
def test_every_forward_gives_the_losses_and_gradients_of_separate_forwards(model, settings) -> None:
    batch = _batch(settings)
    plain = {name: model_logits(model, batch[name]) for name in ("forget", "retain")}
    nll_plain, count_plain = sequence_nll(plain["forget"], batch["forget"]["labels"])
    retain_plain = mean_token_nll(plain["retain"], batch["retain"]["labels"], 20.0)
    grads_plain = _grads(model, nll_plain.sum() + retain_plain)

    outputs = part_outputs(model, batch, ("forget", "retain"))
    nll, count = outputs["forget"].sequence_nll()
    retain = outputs["retain"].mean_token_nll(20.0)
    assert torch.equal(count, count_plain)
    torch.testing.assert_close(nll, nll_plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(retain, retain_plain, rtol=1e-5, atol=1e-6)
    for got, want in zip(_grads(model, nll.sum() + retain), grads_plain):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s.mode}-{'targets' if s.targets_only else 'all'}")
def test_part_logits_match_at_the_positions_a_loss_reads(model, settings) -> None:
    batch = _batch(settings)
    with torch.no_grad():
        logits = part_logits(model, batch, ("forget", "retain"))
        for name in ("forget", "retain"):
            plain = model_logits(model, batch[name])
            assert logits[name].shape == plain.shape
            reads = batch[name]["labels"][:, 1:] != -100  # positions t predicting a target at t + 1
            torch.testing.assert_close(logits[name][:, :-1][reads], plain[:, :-1][reads], rtol=1e-5, atol=1e-5)


def test_joint_forward_gives_exactly_the_separate_losses(model) -> None:
    """One padded forward of every row changes no arithmetic of a row on CPU: the losses are identical."""
    with torch.no_grad():
        joint = part_outputs(model, _batch(ForwardSettings("joint")), ("forget", "retain"))
        separate = part_outputs(model, _batch(), ("forget", "retain"))
    assert torch.equal(joint["forget"].sequence_nll()[0], separate["forget"].sequence_nll()[0])
    assert torch.equal(joint["retain"].mean_token_nll(), separate["retain"].mean_token_nll())


class _Reference:
    """Cached reference log-probs (made up) and reference logits (those of a fixed random model)."""

    def __init__(self, frozen: torch.nn.Module) -> None:
        self.frozen = frozen

    def forget_logprobs(self, batch: dict) -> torch.Tensor:
        return -3.0 - batch["index"].float()

    def logits(self, batch: dict) -> torch.Tensor:
        with torch.no_grad():
            return model_logits(self.frozen, batch)


@pytest.mark.parametrize(
    "method", [NPO(), SimNPO(), GradDiff(), GradDiff(retain_loss_type="KL"), NPO(retain_loss_type="KL")], ids=repr
)
@pytest.mark.parametrize("settings", SETTINGS[2:], ids=lambda s: f"{s.mode}-{'targets' if s.targets_only else 'all'}")
def test_methods_give_the_same_loss_with_every_forward(model, method, settings) -> None:
    reference = _Reference(build_tiny_llama(_Tokenizer(), SIZE, seed=1))
    plain = method.compute_loss(model, _batch(), reference)
    fast = method.compute_loss(model, _batch(settings), reference)
    torch.testing.assert_close(fast.loss, plain.loss, rtol=1e-5, atol=1e-6)
    assert fast.terms == pytest.approx(plain.terms, rel=1e-5, abs=1e-6)


def test_unknown_forward_mode_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown forward_mode 'fast'; valid choices: separate, joint"):
        ForwardSettings("fast")
    with pytest.raises(ConfigError, match="forward_mode"):
        resolve_config(
            "unlearn", load_plugins(), benchmark="tofu", method="NPO", overrides=["trainer.args.forward_mode=fast"]
        )


def test_settings_come_from_the_trainer_args() -> None:
    assert ForwardSettings.of({}) == ForwardSettings("separate", False)
    assert ForwardSettings.of({"forward_mode": "joint", "target_logits_only": True}) == ForwardSettings("joint", True)


def _samples(n: int, seed: int) -> list[Tokenized]:
    rng = random.Random(seed)
    return [
        Tokenized(
            tuple(rng.randrange(3, SIZE.vocab_size) for _ in range(rng.randrange(2, 8))),
            tuple(rng.randrange(3, SIZE.vocab_size) for _ in range(rng.randrange(1, 8))),
            i,
        )
        for i in range(n)
    ]


class _Recording(GradDiff):
    """GradDiff that records the forward settings the runner passed."""

    def compute_loss(self, model, batch, reference):
        self.seen = batch[FORWARD_KEY]
        return super().compute_loss(model, batch, reference)


def _train(model: torch.nn.Module, **changes: object) -> tuple[list[dict], ForwardSettings]:
    """Three GradDiff steps of the runner on random forget/retain rows; the logged steps and forward settings."""
    args = {**TRAINER_ARGS, "per_device_train_batch_size": 3, "gradient_accumulation_steps": 2, "max_steps": 3}
    args.update(learning_rate=1e-2, warmup_epochs=0.0, seed=0, **changes)
    batches = ForgetRetainBatches(_samples(12, 1), _samples(12, 2), 3, 0, 0)
    seed_everything(0)
    method = _Recording()
    result = train(copy.deepcopy(model), batches, args, accelerator=get_accelerator("no"), method=method)
    return result.history, method.seen


def test_the_runner_trains_alike_with_the_fast_forwards(model) -> None:
    plain, plain_settings = _train(model)
    fast, fast_settings = _train(model, forward_mode="joint", target_logits_only=True)
    assert (plain_settings, fast_settings) == (ForwardSettings(), ForwardSettings("joint", True))
    assert len(plain) == len(fast) == 3
    for a, b in zip(plain, fast):
        for key in ("loss", "forget_loss", "retain_loss", "grad_norm"):
            assert b[key] == pytest.approx(a[key], rel=1e-4), key
    assert fast[-1]["loss"] != plain[0]["loss"]  # the weights moved: later steps compare trained models too


def test_left_padded_rows_are_refused_by_the_fast_forwards(model) -> None:
    batch = _batch(ForwardSettings("grouped"))
    batch["retain"] = {k: v.flip(-1) if v.dim() == 2 else v for k, v in batch["retain"].items()}
    with pytest.raises(ValueError, match="need right-padded rows"):
        part_outputs(model, batch, ("forget", "retain"))


def test_gradient_checkpointing_with_the_fast_forwards_trains_alike(model) -> None:
    plain, _ = _train(model)
    checkpointed, _ = _train(model, forward_mode="packed", target_logits_only=True, gradient_checkpointing=True)
    for a, b in zip(plain, checkpointed):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-4)

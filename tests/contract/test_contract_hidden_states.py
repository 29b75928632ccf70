"""Hidden states of chosen layers and the parameters a method trains (RMU): ``module_outputs`` for the trained model,
``reference.module_outputs`` for the frozen one, ``trainable_parameters()`` freezing the rest before the optimizer."""

from __future__ import annotations

import json

import pytest
import torch
from contract_methods import TRAINED, HiddenRMU
from contractkit import unlearn
from safetensors.torch import load_file
from support.micro_llama import random_llama

from unlearn_core import module_outputs
from unlearn_core.data import Tokenized, collate
from unlearn_core.errors import ConfigError
from unlearn_core.training.checkpoint import complete_checkpoints
from unlearn_core.training.method_hooks import FrozenParameters
from unlearn_core.training.method_state import load_method_state
from unlearn_core.training.reference import FrozenReference


def tiny_llama() -> torch.nn.Module:
    return random_llama(0, vocab_size=64, num_hidden_layers=3, max_position_embeddings=64).eval()


def batch() -> dict[str, torch.Tensor]:
    samples = [Tokenized((3, 4, 5), (6, 7, 1), 0), Tokenized((3, 9), (10, 1), 1)]
    return collate(samples, 0)


class Wrapper(torch.nn.Module):
    """Keeps the model as ``.module``, as DDP and DeepSpeed engines do."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, **kwargs: torch.Tensor) -> object:
        return self.module(**kwargs)


def hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_module_outputs_are_the_layers_hidden_states_and_the_hooks_go_away():
    model, b = tiny_llama(), batch()
    expected = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True)
    before = hooks(model)
    got = module_outputs(Wrapper(model), b, r"model\.layers\.[01]")
    assert list(got.outputs) == ["model.layers.0", "model.layers.1"]
    assert torch.allclose(got.outputs["model.layers.1"], expected.hidden_states[2])
    assert torch.allclose(got.logits, expected.logits)
    assert hooks(model) == before
    with pytest.raises(ValueError, match="one module, got 2"):
        got.one()


def test_gradients_flow_through_module_outputs():
    model, b = tiny_llama(), batch()
    module_outputs(model, b, r"model\.layers\.0").one().pow(2).mean().backward()
    assert model.model.layers[0].mlp.down_proj.weight.grad is not None
    assert model.model.layers[2].mlp.down_proj.weight.grad is None


def test_a_pattern_matching_no_module_names_it_and_some_module_names():
    with pytest.raises(ConfigError, match=r"model\\.layers\\.9.*model\.embed_tokens") as refused:
        module_outputs(tiny_llama(), batch(), r"model\.layers\.9")
    assert str(refused.value).endswith("; module lists: model.layers.0 to model.layers.2)")


def test_the_frozen_reference_gives_the_starting_models_module_outputs():
    model, b = tiny_llama(), batch()
    reference = FrozenReference.build(
        None, [], fields=(), keep=model, batch_size=2, pad_id=0, device=torch.device("cpu")
    )
    frozen = reference.module_outputs(b, r"model\.layers\.2").one()
    assert not frozen.requires_grad
    assert torch.equal(frozen, module_outputs(model, b, r"model\.layers\.2").one())


def test_frozen_parameters_keep_out_of_training_and_come_back_for_evaluation():
    model = tiny_llama()
    method = HiddenRMU(trainable=r"model\.layers\.1\.mlp\.down_proj\.weight")
    frozen = FrozenParameters(model, method)
    assert frozen.count == 16 * 32
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["model.layers.1.mlp.down_proj.weight"]
    with frozen.thawed():
        assert all(p.requires_grad for p in model.parameters())
    assert sum(p.requires_grad for p in model.parameters()) == 1
    frozen.release()
    assert all(p.requires_grad for p in model.parameters())


def test_rmu_trains_only_its_matrix_toward_the_control_vector(workdir, plugins):
    out = unlearn(plugins, "HiddenRMU", "o", "trainer.args.save_strategy=epoch").output_dir
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["trainable_parameters"] == 128 * 352
    start = load_file(f"{provenance['start_model']}/model.safetensors")
    end = load_file(out / "model" / "model.safetensors")
    changed = sorted(k for k in start if not torch.equal(start[k], end[k]))
    assert changed == [TRAINED.replace("\\", "")]
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert records[0]["retain_loss"] == 0.0 < records[-1]["retain_loss"]  # equal to the frozen model at first
    assert records[-1]["forget_loss"] < records[0]["forget_loss"]
    state = load_method_state(complete_checkpoints(out)[-1][1])
    assert state is not None
    assert torch.equal(state["control"], HiddenRMU().control_vector(128))


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (
            r"trainer.method_args.trainable=model\.layers\.9\..*",
            r"'model\\.layers\\.9\\..*'.*model\.embed_tokens\.weight",
        ),
        (r"trainer.method_args.layer=model\.layers\.9", r"HiddenRMU.*module outputs.*'model\\.layers\\.9'"),
        ("trainer.method_args.trainable=model.(layers", r"'model.\(layers' is not a regular expression"),
    ],
)
def test_patterns_matching_nothing_are_refused_before_training_in_one_line(workdir, plugins, override, named):
    with pytest.raises(ConfigError, match=named) as refused:
        unlearn(plugins, "HiddenRMU", "o", override)
    assert "\n" not in str(refused.value)
    assert not (workdir / "o" / "train_log.jsonl").exists()

"""LoRA (``peft=lora``) end to end on the embedded TOFU, in this process: NPO and GradDiff forget with adapters only,
the reference is the adapter-disabled model, the saved adapter (or merged model) reloads to the same numbers, and
gradient checkpointing trains the adapters and nothing else."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from faultkit import TINY

pytest.importorskip("peft")

from unlearn_core.cli import main  # noqa: E402
from unlearn_core.pipeline.api import run  # noqa: E402

pytestmark = pytest.mark.slow

LORA = ["peft=lora", "peft.target_modules=[q_proj,k_proj,v_proj,o_proj]", "trainer.args.learning_rate=1e-2"]
KEYS = ("forget_Q_A_Prob", "forget_truth_ratio", "forget_quality", "model_utility")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, offline_dir: Any) -> Iterator[Path]:
    with offline_dir(tmp_path_factory.mktemp("lora")) as root:
        run(
            "unlearn",
            benchmark="tofu",
            method="npo",
            overrides=[*TINY, *LORA, "trainer.method_args.retain_loss_type=KL", "task_name=npo"],
        )
        run(
            "unlearn",
            benchmark="tofu",
            method="graddiff",
            overrides=[*TINY, *LORA, "peft.merge_on_save=true", "task_name=graddiff"],
        )
        yield root


def summary(root: Path, relative: str) -> dict[str, Any]:
    return json.loads((root / relative).read_text())


def table(root: Path, task: str) -> dict[str, Any]:
    return json.loads((root / f"saves/unlearn/{task}/summary_table.json").read_text())


@pytest.mark.parametrize("task", ["npo", "graddiff"])
def test_lora_unlearning_forgets(workspace: Path, task: str) -> None:
    rows = table(workspace, task)["rows"]
    assert rows["unlearned"]["forget_Q_A_Prob"] < 0.5 * rows["target"]["forget_Q_A_Prob"]


def test_the_reference_is_the_adapter_disabled_model(workspace: Path) -> None:
    provenance = summary(workspace, "saves/unlearn/npo/provenance.json")
    assert provenance["reference_model"] == "adapter-disabled"
    config = summary(workspace, "saves/unlearn/npo/config.json")
    assert config["peft"]["name"] == "lora" and config["peft"]["target_modules"] == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
    ]
    assert 0 < provenance["trainable_parameters"] < 100_000  # the adapters only, not the model


def test_the_adapter_is_saved_and_reloads_to_the_same_numbers(workspace: Path, offline_dir: Any) -> None:
    model_dir = workspace / "saves/unlearn/npo/model"
    assert (model_dir / "adapter_config.json").is_file() and (model_dir / "adapter_model.safetensors").is_file()
    assert not (model_dir / "config.json").exists()
    with offline_dir(workspace):
        retain = sorted(Path(os.environ["UNLEARN_CACHE_DIR"]).glob("tofu/retain-eval-*/TOFU_EVAL.json"))
        run(
            "eval",
            benchmark="tofu",
            overrides=[
                *TINY,
                f"retain_logs_path={retain[0]}",
                "data.max_length=128",
                "model.model_args.pretrained_model_name_or_path=saves/unlearn/npo",
                "task_name=npo_again",
            ],
        )
    again = summary(workspace, "saves/eval/npo_again/TOFU_SUMMARY.json")
    final = summary(workspace, "saves/unlearn/npo/evals/TOFU_SUMMARY.json")
    for key in KEYS:
        assert again[key] == pytest.approx(final[key], rel=1e-6, abs=1e-9), key


def test_a_resumed_lora_run_reaches_its_uninterrupted_adapter(workspace: Path, offline_dir: Any) -> None:
    """Checkpoints hold the adapters: a run cut back to its first checkpoint resumes to the same adapter."""
    import shutil

    from safetensors.torch import load_file

    from unlearn_core.training.checkpoint import complete_checkpoints

    out = workspace / "saves/unlearn/resumed"
    args = [*TINY, *LORA, "task_name=resumed", "trainer.args.save_strategy=steps", "trainer.args.save_steps=1"]
    args += ["trainer.args.save_total_limit=0", "trainer.args.num_train_epochs=3", "eval.metrics=[forget_Q_A_Prob]"]
    with offline_dir(workspace):
        run("unlearn", benchmark="tofu", method="npo", overrides=args)
        adapter = load_file(str(out / "model/adapter_model.safetensors"))
        found = complete_checkpoints(out)
        assert len(found) >= 2
        for _, path in found[1:]:
            shutil.rmtree(path)
        shutil.rmtree(out / "model")
        run("unlearn", benchmark="tofu", method="npo", overrides=args, resume=True)
    again = load_file(str(out / "model/adapter_model.safetensors"))
    assert max(float((adapter[k] - again[k]).abs().max()) for k in adapter) < 1e-6
    assert max(float(adapter[k].abs().max()) for k in adapter if "lora_B" in k) > 1e-3


def test_merge_on_save_writes_a_whole_model(workspace: Path) -> None:
    model_dir = workspace / "saves/unlearn/graddiff/model"
    assert (model_dir / "config.json").is_file() and (model_dir / "model.safetensors").is_file()
    assert not (model_dir / "adapter_config.json").exists()
    from safetensors.torch import load_file

    assert not any("lora" in name for name in load_file(str(model_dir / "model.safetensors")))


def test_gradient_checkpointing_trains_the_adapters_and_nothing_else() -> None:
    from support.tiny_setup import tiny_model_and_tokenizer

    from unlearn_core import losses
    from unlearn_core.models.lora import with_adapters

    base, _ = tiny_model_and_tokenizer(["a b c d e f g h i j k l"], seed=1)
    model = with_adapters(
        base, {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"], "bias": "none"}
    )
    model.activation_checkpointing_enable()  # what the loop does with trainer.args.gradient_checkpointing=true
    model.train()
    assert model.get_base_model().is_activation_checkpointing
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(3, base.config.vocab_size, (2, 12))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
    for _ in range(2):
        loss = losses.mean_token_nll(losses.model_output(model, batch), ids)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed and all("lora_" in n for n in changed)
    assert {n for n in before if "lora_B" in n} <= changed  # every adapter's B left zero: they all train


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("peft.rank=4", "unknown key 'peft.rank'"),
        ("peft.target_modules=[q_proj,query]", "peft.target_modules names no module of this model: query"),
    ],
)
def test_bad_peft_settings_exit_2(override: str, says: str, offline_dir: Any, tmp_path: Path) -> None:
    with offline_dir(tmp_path):
        result = CliRunner().invoke(
            main, ["run", "--benchmark", "tofu", "--method", "npo", *TINY, "peft=lora", override]
        )
    assert result.exit_code == 2, result.output
    assert says in result.output
    if "target_modules" in override:  # the model's module names, to choose from
        assert "q_proj" in result.output and "down_proj" in result.output and "lm_head" in result.output
    else:
        assert "lora_alpha" in result.output and "target_modules" in result.output


def test_quantization_without_cuda_is_refused_before_loading(offline_dir: Any, tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the configuration goes through to bitsandbytes")
    with offline_dir(tmp_path):
        result = CliRunner().invoke(
            main,
            [
                "run",
                "--benchmark",
                "tofu",
                "--method",
                "npo",
                *TINY,
                "peft=lora",
                "model.model_args.quantization_config={load_in_4bit: true}",
            ],
        )
    assert result.exit_code == 2, result.output
    assert "needs a CUDA device" in result.output

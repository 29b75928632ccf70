"""The method contract on two CPU processes: a test method installed as a plugin in the launched processes reads an
extra forget field and its cached reference log-probs, hidden states of the trained and the frozen model, trains one
matrix and keeps a dual variable and a control vector in its state. DDP, ZeRO-2 and ZeRO-3 (trained model and frozen
reference partitioned) reach the single-process weights and state; ZeRO-3 resumes from a checkpoint to its own.
Under DDP an RMU-style loss on a middle layer with every parameter trainable leaves the later layers untouched, as in
one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from support.free_port import launch_args

pytestmark = pytest.mark.slow

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
sys.path.insert(0, str(CONTRACT))
from contract_methods import plugin_env  # noqa: E402
from contractkit import TINY as CONTRACT_TINY  # noqa: E402

TINY = [
    *CONTRACT_TINY,
    "data.forget=TOFU_QA_forget_idk",
    "trainer.args.num_train_epochs=2",
    "trainer.args.warmup_epochs=0",
    "trainer.args.lr_scheduler_type=constant",
    "trainer.args.per_device_train_batch_size=1",
    "trainer.args.save_strategy=steps",
    "trainer.args.save_steps=1",
    "trainer.args.save_total_limit=0",
]
"""Three optimizer steps per epoch, each of two samples: one per process, or two accumulated micro-batches in one."""
KINDS = ("ddp", "zero2", "zero3")
TIMINGS: dict[str, float] = {}


def _run(args: list[str], env: dict[str, str], name: str) -> None:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "unlearn_core", *args], env=env, capture_output=True, text=True)
    TIMINGS[name] = time.perf_counter() - start
    print(f"{name}: {TIMINGS[name]:.1f} s", file=sys.stderr)
    assert done.returncode == 0, done.stderr[-3000:]


def _launch(kind: str, out: Path, env: dict[str, str], *extra: str) -> None:
    args = [*launch_args(kind), "run", "--benchmark", "tofu", "--method", "ContractAll", *TINY]
    args.append(f"paths.output_dir={out}")
    _run([*args, *extra], env, f"contract {kind} {' '.join(extra)}".strip())


@pytest.fixture(scope="module")
def contract_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], dict[str, str]]:
    pytest.importorskip("deepspeed")
    root = tmp_path_factory.mktemp("contract-distributed")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "UNLEARN_DISABLE_PLUGINS")}
    env.update(OMP_NUM_THREADS="1", UNLEARN_CACHE_DIR=str(root / "cache"), **plugin_env(root / "site"))
    dirs = {"single": root / "single"}
    args = [
        "run",
        "--benchmark",
        "tofu",
        "--method",
        "ContractAll",
        *TINY,
        "trainer.args.gradient_accumulation_steps=2",
    ]
    _run([*args, f"paths.output_dir={dirs['single']}"], env, "contract single")
    for kind in KINDS:
        dirs[kind] = root / kind
        _launch(kind, dirs[kind], env)
    return dirs, env


def _weights_file(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return _weights_file(out / "model" / "model.safetensors")


def _state(out: Path) -> dict:
    from unlearn_core.training.checkpoint import complete_checkpoints
    from unlearn_core.training.method_state import load_method_state

    state = load_method_state(complete_checkpoints(out)[-1][1])
    assert state is not None
    return state


@pytest.mark.parametrize("kind", KINDS)
def test_every_launch_reaches_the_single_process_weights_and_method_state(contract_runs, kind):
    dirs, _ = contract_runs
    single, multi = _weights(dirs["single"]), _weights(dirs[kind])
    changed = [k for k in single if not torch.equal(single[k], multi[k])]
    assert max((float((single[k] - multi[k]).abs().max()) for k in changed), default=0.0) < 1e-5
    a, b = _state(dirs["single"]), _state(dirs[kind])
    assert torch.equal(a["control"], b["control"])
    assert b["history"].tolist() == pytest.approx(a["history"].tolist(), rel=1e-6)
    assert b["dual"] == pytest.approx(a["dual"], rel=1e-6) and b["epochs_seen"] == a["epochs_seen"]
    facts = json.loads((dirs[kind] / "provenance.json").read_text())
    assert facts["trainable_parameters"] == 128 * 352
    assert facts["reference_model"] == ("zero3-engine" if kind == "zero3" else "replica")


def test_only_the_chosen_matrix_trained_under_zero3(contract_runs):
    dirs, _ = contract_runs
    start = json.loads((dirs["zero3"] / "provenance.json").read_text())["start_model"]
    before, after = _weights_file(Path(start) / "model.safetensors"), _weights(dirs["zero3"])
    assert [k for k in before if not torch.equal(before[k], after[k])] == ["model.layers.1.mlp.down_proj.weight"]


def test_zero3_resumes_the_method_state_and_reference_logprobs_to_its_own_end(contract_runs):
    from unlearn_core.training.checkpoint import complete_checkpoints, reference_logprobs_of

    dirs, env = contract_runs
    out = dirs["zero3"]
    weights, state = _weights(out), _state(out)
    cached = reference_logprobs_of(complete_checkpoints(out)[-1][1])
    assert cached is not None and set(cached) == {"forget", "alternate"}
    for _, path in complete_checkpoints(out)[2:]:
        shutil.rmtree(path)
    shutil.rmtree(out / "model")
    _launch("zero3", out, env, "--resume")
    again = _weights(out)
    assert max(float((weights[k] - again[k]).abs().max()) for k in weights) < 1e-6
    resumed = _state(out)
    assert torch.equal(resumed["control"], state["control"])
    assert resumed["history"].tolist() == pytest.approx(state["history"].tolist(), rel=1e-6)
    assert reference_logprobs_of(complete_checkpoints(out)[-1][1]) == cached


def test_ddp_trains_a_middle_layer_loss_with_every_parameter_trainable(contract_runs, tmp_path):
    """The layers after the hooked one get no gradient (DDP alone would wait for theirs and fail) and stay as they
    were, as in one process; the runner averages the others' gradients (exactly: see the DDP run above)."""
    _, env = contract_runs
    args = [*launch_args("ddp"), "run", "--benchmark", "tofu", "--method", "HiddenRMU", *TINY]
    _run([*args, "trainer.method_args.trainable=.*", f"paths.output_dir={tmp_path}"], env, "rmu ddp")
    facts = json.loads((tmp_path / "provenance.json").read_text())
    start, end = _weights_file(Path(facts["start_model"]) / "model.safetensors"), _weights(tmp_path)
    changed = {k for k in start if not torch.equal(start[k], end[k])}
    assert facts["trainable_parameters"] == sum(t.numel() for t in start.values())
    assert {"model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight"} <= changed
    assert not any(k.startswith(("model.layers.2.", "model.layers.3.", "model.norm")) for k in changed)

"""RMU and PDU under DeepSpeed ZeRO-3 on two CPU processes reach the weights and method state of one process with
the same effective batch: RMU reads a middle layer of the partitioned model and of the partitioned frozen reference;
PDU's dual variable moves after each epoch from the mean retain loss over both processes' batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
sys.path.insert(0, str(CONTRACT))
from contractkit import TINY as CONTRACT_TINY  # noqa: E402

TINY = [
    *CONTRACT_TINY,
    "trainer.args.num_train_epochs=2",
    "trainer.args.warmup_epochs=0",
    "trainer.args.lr_scheduler_type=constant",
    "trainer.args.per_device_train_batch_size=1",
    "trainer.args.save_strategy=epoch",
]
"""Three optimizer steps per epoch, each of two samples: one per process, or two accumulated micro-batches in one."""
METHODS = {
    # every parameter trains (the default); without weight decay the layers after the hooked one stay unchanged
    "rmu": [r"trainer.method_args.module_regex=model\.layers\.1", "trainer.args.weight_decay=0.0"],
    "pdu": [
        "trainer.method_args.retain_loss_eps=0.01",
        "trainer.method_args.dual_update_upon=epoch",
        "trainer.method_args.dual_warmup_epochs=0",
    ],
}


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "unlearn_core", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    pytest.importorskip("deepspeed")
    pytest.importorskip("unlearn_rmu", reason="plugins/rmu is not installed")
    pytest.importorskip("unlearn_pdu", reason="plugins/pdu is not installed")
    root = tmp_path_factory.mktemp("rmu-pdu-zero3")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "UNLEARN_DISABLE_PLUGINS")}
    env.update(OMP_NUM_THREADS="1", UNLEARN_CACHE_DIR=str(root / "cache"))
    dirs = {}
    for method, extra in METHODS.items():
        args = ["run", "--benchmark", "tofu", "--method", method, *TINY, *extra]
        dirs[(method, "single")] = root / f"{method}-single"
        _run([*args, "trainer.args.gradient_accumulation_steps=2", f"paths.output_dir={dirs[(method, 'single')]}"], env)
        dirs[(method, "zero3")] = root / f"{method}-zero3"
        _run(["launch", "zero3", *args, f"paths.output_dir={dirs[(method, 'zero3')]}"], env)
    return dirs


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path if path.suffix == ".safetensors" else path / "model" / "model.safetensors")


def _state(out: Path) -> dict:
    from unlearn_core.training.checkpoint import complete_checkpoints
    from unlearn_core.training.method_state import load_method_state

    state = load_method_state(complete_checkpoints(out)[-1][1])
    assert state is not None
    return state


@pytest.mark.parametrize("method", list(METHODS))
def test_zero3_reaches_the_single_process_weights_and_state(runs, method):
    single, zero3 = runs[(method, "single")], runs[(method, "zero3")]
    a, b = _weights(single), _weights(zero3)
    start = _weights(Path(json.loads((zero3 / "provenance.json").read_text())["start_model"]) / "model.safetensors")
    changed = {k for k in start if not torch.equal(start[k], b[k])}
    assert max(float((start[k] - b[k]).abs().max()) for k in changed) > 3e-3  # six steps of about lr = 1e-3
    # Adam normalises each weight's step, so gradients added in another order (two processes) move a weight whose
    # gradient is tiny (a rare token's embedding) by a slightly different fraction of a step: within a tenth of one
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4
    facts = json.loads((zero3 / "provenance.json").read_text())
    assert facts["reference_model"] == ("zero3-engine" if method == "rmu" else "none")
    if method == "rmu":
        assert torch.equal(_state(single)["control_vector"], _state(zero3)["control_vector"])
        assert not any(k.startswith(("model.layers.2.", "model.layers.3.", "model.norm")) for k in changed)
    else:
        s, z = _state(single), _state(zero3)
        assert z["epochs_done"] == s["epochs_done"] == 2
        assert z["dual"] == pytest.approx(s["dual"], rel=1e-5) and z["dual"] > 1.0

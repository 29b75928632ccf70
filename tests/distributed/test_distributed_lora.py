"""LoRA (``peft=lora``) on two CPU processes (gloo) through ``accelerate launch``: DDP and ZeRO-2 train the same
adapter as one process with the same global batch, and ZeRO-3 is refused before any model loads (resuming a LoRA run
is tested in one process, ``tests/test_lora.py``).

NPO runs with the KL retain loss, so the adapter-disabled reference serves logits in every launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.free_port import launch_args

pytestmark = pytest.mark.slow
pytest.importorskip("peft")

TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=3",
    "data.embedded.finetune_epochs=3",
    "trainer.args.num_train_epochs=2",
    "trainer.args.optim=sgd",
    "trainer.args.learning_rate=0.5",
    "trainer.method_args.retain_loss_type=KL",
    "generation.max_new_tokens=8",
    "peft=lora",
    "peft.lora_dropout=0.0",
    "peft.target_modules=[q_proj,v_proj]",
]
PER_DEVICE = 4


def _run(cmd: list[str], cache: Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "UNLEARN_CACHE_DIR": str(cache)}
    for name in ("RANK", "WORLD_SIZE", "DS_ACCELERATOR"):
        env.pop(name, None)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == expect, done.stderr[-3000:]
    return done


def _launch(kind: str, out: Path, cache: Path, *extra: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "unlearn_core", *launch_args(kind)]
    cmd += ["run", "--benchmark", "tofu", "--method", "npo", *TINY]
    cmd += [f"trainer.args.per_device_train_batch_size={PER_DEVICE}", f"paths.output_dir={out}", *extra]
    return _run(cmd, cache, expect)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("deepspeed")
    root = tmp_path_factory.mktemp("distributed-lora")
    cache = root / "cache"
    cmd = [sys.executable, "-m", "unlearn_core", "run", "--benchmark", "tofu", "--method", "npo", *TINY]
    _run(
        [*cmd, f"trainer.args.per_device_train_batch_size={2 * PER_DEVICE}", f"paths.output_dir={root / 'single'}"],
        cache,
    )
    dirs = {"single": root / "single", "cache": cache}
    for kind in ("ddp", "zero2"):
        dirs[kind] = root / kind
        _launch(kind, dirs[kind], cache)
    return dirs


def _adapter(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path / "model" / "adapter_model.safetensors")


@pytest.mark.parametrize("kind", ["ddp", "zero2"])
def test_the_launched_adapter_equals_the_single_process_one(runs, kind):
    single, multi = _adapter(runs["single"]), _adapter(runs[kind])
    assert single.keys() == multi.keys() and any("lora_B" in k for k in single)
    assert max(float((single[k] - multi[k]).abs().max()) for k in single) < 1e-4
    assert max(float(single[k].abs().max()) for k in single if "lora_B" in k) > 1e-3  # the adapters trained
    a = json.loads((runs["single"] / "evals" / "TOFU_SUMMARY.json").read_text())
    b = json.loads((runs[kind] / "evals" / "TOFU_SUMMARY.json").read_text())
    assert b["forget_Q_A_Prob"] == pytest.approx(a["forget_Q_A_Prob"], rel=1e-3)
    facts = json.loads((runs[kind] / "provenance.json").read_text())
    assert facts["reference_model"] == "adapter-disabled" and facts["world_size"] == 2


def test_zero3_with_lora_is_refused_before_loading(runs, tmp_path):
    done = _launch("zero3", tmp_path / "zero3", runs["cache"], expect=1)
    assert "peft=lora is not supported under ZeRO-3" in done.stderr + done.stdout
    assert not (tmp_path / "zero3" / "model").exists()

"""Two CPU processes (gloo) through ``accelerate launch``: DDP, ZeRO-2 and ZeRO-3 unlearning with evaluation during
training give the single-process numbers for the same global batch, and the ZeRO-3 model reloads to them.

NPO runs with the KL retain loss, so every launch also uses the frozen reference model: a local replica under DDP and
ZeRO-2, a partitioned inference-only DeepSpeed engine under ZeRO-3 (where the trained model is loaded partitioned)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.free_port import launch_args

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[2] / "unlearn_core" / "configs" / "accelerate"
TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=3",
    "data.embedded.finetune_epochs=3",
    "trainer.args.num_train_epochs=2",
    "trainer.args.optim=sgd",
    "trainer.args.learning_rate=0.5",
    "trainer.method_args.retain_loss_type=KL",
    "trainer.args.eval_strategy=epoch",
    "generation.max_new_tokens=8",
]
PER_DEVICE = 4
KINDS = ("ddp", "zero2", "zero3", "zero3_offload")
"""Shipped launch configurations run here (ZeRO-Offload: the run's own optimizer steps the CPU partitions)."""
TIMINGS: dict[str, float] = {}


def _env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "UNLEARN_CACHE_DIR": str(cache), "DS_ACCELERATOR": "cpu"}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def _accelerate() -> str:
    return shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")


def _run(cmd: list[str], cache: Path, name: str, extra_env: dict[str, str | None] | None = None) -> str:
    """Run ``cmd`` with ``extra_env`` added (None: removed); record its wall time; return its stdout."""
    env = {**_env(cache), **(extra_env or {})}
    start = time.perf_counter()
    out = subprocess.run(
        cmd, env={k: v for k, v in env.items() if v is not None}, capture_output=True, text=True, timeout=900
    )
    TIMINGS[name] = time.perf_counter() - start
    print(f"{name}: {TIMINGS[name]:.1f} s", file=sys.stderr)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _launch(kind: str, out: Path, cache: Path, extra: tuple[str, ...] = (), name: str | None = None) -> None:
    """``unlearn launch KIND run ...``, without DS_ACCELERATOR in the environment: the launcher sets what a machine
    without CUDA needs, and nothing from DeepSpeed reaches stdout."""
    cmd = [sys.executable, "-m", "unlearn_core", *launch_args(kind)]
    cmd += ["run", "--benchmark", "tofu", "--method", "npo", *TINY]
    cmd += [f"trainer.args.per_device_train_batch_size={PER_DEVICE}", f"paths.output_dir={out}", *extra]
    stdout = _run(cmd, cache, name or kind, {"DS_ACCELERATOR": None})
    assert "DeepSpeed" not in stdout and "accelerator" not in stdout.lower(), stdout[:2000]
    assert stdout.count("Output: ") == 1  # process 0 alone reports


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("deepspeed")
    root = tmp_path_factory.mktemp("distributed")
    cache = root / "cache"
    single = root / "single"
    cmd = [sys.executable, "-m", "unlearn_core", "run", "--benchmark", "tofu", "--method", "npo", *TINY]
    cmd += [f"trainer.args.per_device_train_batch_size={2 * PER_DEVICE}", f"paths.output_dir={single}"]
    _run(cmd, cache, "single")  # also builds the embedded models the launched runs reuse
    dirs = {"single": single}
    for kind in KINDS:
        dirs[kind] = root / kind
        _launch(kind, dirs[kind], cache)
    return dirs


def _summary(path: Path) -> dict[str, float]:
    return json.loads((path / "evals" / "TOFU_SUMMARY.json").read_text())


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path / "model" / "model.safetensors")


def _close(a: float | None, b: float | None, rel: float = 1e-4) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_final_metrics_equal_the_single_process_run(runs, kind):
    single, multi = _summary(runs["single"]), _summary(runs[kind])
    assert multi.keys() == single.keys()
    for key in single:
        assert _close(multi[key], single[key]), (key, multi[key], single[key])


@pytest.mark.parametrize("kind", KINDS)
def test_final_weights_and_losses_equal_the_single_process_run(runs, kind):
    a, b = _weights(runs["single"]), _weights(runs[kind])
    assert a.keys() == b.keys()
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) < 1e-3
    losses = [
        [json.loads(line)["loss"] for line in (runs[k] / "train_log.jsonl").read_text().splitlines()]
        for k in ("single", kind)
    ]
    assert len(losses[0]) == len(losses[1])
    for x, y in zip(*losses):
        assert _close(x, y, 1e-3), losses


@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_during_training_ran_on_every_world_size(runs, kind):
    records = [json.loads(line) for line in (runs[kind] / "eval_log.jsonl").read_text().splitlines()]
    single = [json.loads(line) for line in (runs["single"] / "eval_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [r["epoch"] for r in single] == [1.0, 2.0]
    for ours, theirs in zip(records, single):
        assert _close(ours["forget_Q_A_Prob"], theirs["forget_Q_A_Prob"])


def test_world_size_and_effective_batch_are_recorded(runs):
    single = json.loads((runs["single"] / "provenance.json").read_text())
    ddp = json.loads((runs["ddp"] / "provenance.json").read_text())
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    assert single["effective_batch_size"] == ddp["effective_batch_size"] == 2 * PER_DEVICE


def test_zero3_loads_the_model_partitioned_and_keeps_the_reference_partitioned(runs):
    facts = {k: json.loads((runs[k] / "provenance.json").read_text()) for k in ("single", *KINDS)}
    assert {k: f["reference_model"] for k, f in facts.items()} == {
        "single": "replica",
        "ddp": "replica",
        "zero2": "replica",
        "zero3": "zero3-engine",
        "zero3_offload": "zero3-engine",
    }
    assert {k: f["loaded_partitioned"] for k, f in facts.items()} == {
        "single": False,
        "ddp": False,
        "zero2": False,
        "zero3": True,
        "zero3_offload": True,
    }


@pytest.mark.parametrize("kind", ["zero2", "zero3"])
def test_deepspeed_checkpoints_resume_to_the_uninterrupted_run(runs, kind, tmp_path):
    """An AdamW run with a checkpoint after every step, cut back to its first checkpoint (as if killed there), resumes
    to its own uninterrupted weights, losses and metrics: every process's optimizer partition was restored."""
    from unlearn_core.training.checkpoint import complete_checkpoints

    cache, out = runs["single"].parent / "cache", tmp_path / kind
    extra = ("trainer.args.optim=adamw_torch", "trainer.args.learning_rate=1e-3", "trainer.args.save_strategy=steps")
    extra += ("trainer.args.save_steps=1", "trainer.args.save_total_limit=0")
    _launch(kind, out, cache, extra, f"{kind} adamw with checkpoints")
    weights, summary = _weights(out), _summary(out)
    losses = [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    found = complete_checkpoints(out)
    assert len(found) >= 2
    assert sorted(p.name for p in found[0][1].glob("optimizer-*.pt")) == ["optimizer-0.pt", "optimizer-1.pt"]
    for _, path in found[1:]:
        shutil.rmtree(path)
    shutil.rmtree(out / "model")
    _launch(kind, out, cache, (*extra, "--resume"), f"{kind} resumed")
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["status"] == "finished" and provenance["resumed_from"] == [found[0][0]]
    again = _weights(out)
    assert max(float((weights[k] - again[k]).abs().max()) for k in weights) < 1e-6
    resumed = [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert resumed == pytest.approx(losses, rel=1e-6)
    for key, value in summary.items():
        assert _close(_summary(out)[key], value, 1e-6), key


def test_sigterm_to_a_launch_checkpoints_every_process_and_prints_the_launch_to_resume(runs, tmp_path):
    """SIGTERM to ``unlearn launch``: the launcher passes it to both processes, they agree on the step, write one
    checkpoint with both optimizer partitions, and process 0 alone says how to resume (through the launcher)."""
    import signal as signals

    from unlearn_core.training.checkpoint import complete_checkpoints

    cache, out = runs["single"].parent / "cache", tmp_path / "stopped"
    args = ["run", "--benchmark", "tofu", "--method", "npo", *TINY[:4], "trainer.args.num_train_epochs=30"]
    args += ["trainer.args.per_device_train_batch_size=1", f"paths.output_dir={out}"]
    env = {k: v for k, v in _env(cache).items() if k != "DS_ACCELERATOR"}
    start = time.perf_counter()
    launched = subprocess.Popen(
        [sys.executable, "-m", "unlearn_core", "launch", "zero2", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        log = out / "train_log.jsonl"
        while not (log.is_file() and len(log.read_text().splitlines()) >= 3):
            assert launched.poll() is None and time.perf_counter() - start < 300, launched.communicate()
            time.sleep(0.05)
        launched.send_signal(signals.SIGTERM)
        _, stderr = launched.communicate(timeout=300)
    finally:
        if launched.poll() is None:
            os.killpg(launched.pid, signals.SIGKILL)
    stopped = complete_checkpoints(out)
    assert len(stopped) == 1, stderr[-3000:]
    step, path = stopped[0]
    assert sorted(p.name for p in path.glob("optimizer-*.pt")) == ["optimizer-0.pt", "optimizer-1.pt"]
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if "SIGTERM" in line and "Process" not in line]
    said = [line[line.index("Error: ") :] for line in lines if "Error: " in line]
    assert len(said) == 1 and f"after step {step} of 90" in said[0], lines
    assert said[0].endswith(f"resume with: {shlex.join(['unlearn', 'launch', 'zero2', *args, '--resume'])}")
    assert sum("SIGTERM received" in line for line in lines) == 1
    _run([sys.executable, "-m", "unlearn_core", "launch", "zero2", *args, "--resume"], cache, "zero2 after SIGTERM")
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["status"] == "finished" and provenance["resumed_from"] == [step]
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 91))
    TIMINGS["zero2 SIGTERM and resume"] = time.perf_counter() - start
    print(f"zero2 SIGTERM and resume: {TIMINGS['zero2 SIGTERM and resume']:.1f} s", file=sys.stderr)


def test_zero3_saved_model_loads_and_evaluates_to_the_same_numbers(runs, tmp_path):
    cache = runs["single"].parent / "cache"
    retain_logs = next((cache / "tofu").glob("retain-eval-*/TOFU_EVAL.json"))
    out = tmp_path / "reeval"
    cmd = [
        sys.executable,
        "-m",
        "unlearn_core",
        "eval",
        "--benchmark",
        "tofu",
        *TINY[:4],
        "generation.max_new_tokens=8",
    ]
    cmd += [f"model.model_args.pretrained_model_name_or_path={runs['zero3'] / 'model'}"]
    cmd += [f"retain_logs_path={retain_logs}", f"paths.output_dir={out}"]
    _run(cmd, cache, "zero3 reload")
    reloaded = json.loads((out / "TOFU_SUMMARY.json").read_text())
    for key, value in _summary(runs["zero3"]).items():
        assert _close(reloaded[key], value), key


def _per_sample(path: Path) -> dict[str, dict]:
    logs = json.loads(path.read_text())
    return {k: v["value_by_index"] for k, v in logs.items() if isinstance(v, dict) and "value_by_index" in v}


def test_two_process_evaluation_equals_one_process_sample_by_sample(runs, tmp_path):
    cache = runs["single"].parent / "cache"
    retain_logs = next((cache / "tofu").glob("retain-eval-*/TOFU_EVAL.json"))
    args = ["eval", "--benchmark", "tofu", *TINY[:4], *TINY[-1:], "data.max_length=128"]
    args += [f"model.model_args.pretrained_model_name_or_path={runs['single'] / 'model'}"]
    args += [f"retain_logs_path={retain_logs}"]
    _run([sys.executable, "-m", "unlearn_core", *args, f"paths.output_dir={tmp_path / 'one'}"], cache, "eval 1 process")
    launch = [_accelerate(), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "unlearn_core"]
    _run(
        [*launch, *args, f"paths.output_dir={tmp_path / 'two'}"], cache, "eval 2 processes", {"ACCELERATE_USE_CPU": "1"}
    )
    one, two = _per_sample(tmp_path / "one" / "TOFU_EVAL.json"), _per_sample(tmp_path / "two" / "TOFU_EVAL.json")
    assert one.keys() == two.keys() and one
    for key in one:
        assert one[key].keys() == two[key].keys(), key
        for index, value in one[key].items():
            other = two[key][index]
            for field, number in value.items():
                _assert_same(other[field], number, (key, index, field))


def _assert_same(ours: object, theirs: object, where: tuple) -> None:
    """Numbers within 1e-5 relative (batches are composed differently), everything else identical."""
    if isinstance(theirs, float):
        assert isinstance(ours, float) and _close(ours, theirs, 1e-5), where
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for a, b in zip(ours, theirs):
            _assert_same(a, b, where)
    else:
        assert ours == theirs, where

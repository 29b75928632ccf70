"""Killing the console script mid-epoch: SIGTERM, SIGKILL, a second signal; then resuming to the end.

(SIGINT through the CLI is exercised in-process in test_fault_pipeline, which spares a process start.)
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from faultkit import STEPPY, TINY, assert_nothing_half_written, run_script, script_env, unlearn_script
from safetensors.torch import load_file

from unlearn_core.pipeline.api import run
from unlearn_core.training.checkpoint import complete_checkpoints

pytestmark = pytest.mark.slow

LONG = [*TINY, *STEPPY, "trainer.args.num_train_epochs=12", "trainer.args.save_strategy=steps"]
LONG += ["trainer.args.save_steps=3", "trainer.args.save_total_limit=2"]
TOTAL = 36  # 12 epochs of 3 optimizer steps


def last_step(log: Path) -> int:
    """The highest step in a train log (0 when there is none yet)."""
    if not log.is_file():
        return 0
    steps = [0]
    for line in log.read_text().splitlines():
        try:
            steps.append(json.loads(line)["step"])
        except (ValueError, KeyError):
            continue
    return max(steps)


def start(cwd: Path, cache: Path, argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [unlearn_script(), *argv],
        cwd=cwd,
        env=script_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_step(process: subprocess.Popen[str], log: Path, step: int, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reached = last_step(log)
        if reached >= step:
            return reached
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError(f"step {step} not reached in {timeout} s")


def stop(process: subprocess.Popen[str], signum: int, times: int = 1) -> tuple[int, str]:
    for _ in range(times):
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def resume_argv(message: str) -> list[str]:
    command = shlex.split(message.split("resume with: ", 1)[1])
    assert command[0] == "unlearn" and command[-1] == "--resume"
    return command[1:]


def test_sigterm_then_sigkill_then_resume_reaches_the_uninterrupted_weights(cached_workdir, embedded_cache):
    run("unlearn", benchmark="tofu", method="npo", overrides=[*LONG, "paths.output_dir=reference"])
    out, log = cached_workdir / "o", cached_workdir / "o" / "train_log.jsonl"
    argv = ["run", "--benchmark", "tofu", "--method", "npo", *LONG, "paths.output_dir=o"]

    first = start(cached_workdir, embedded_cache, argv)
    wait_for_step(first, log, 5)
    code, stderr = stop(first, signal.SIGTERM)
    assert code == 143, stderr
    assert "Traceback" not in stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("Error: stopped by SIGTERM after step ") and f" of {TOTAL}; checkpoint saved: o/" in line
    stopped_at = int(line.split("after step ")[1].split()[0])
    assert 5 <= stopped_at < TOTAL and complete_checkpoints(out)[-1][0] == stopped_at
    assert resume_argv(line) == [*argv, "--resume"]
    assert_nothing_half_written(out)
    before = (out / "checkpoints" / f"step-{stopped_at}" / "model.safetensors").read_bytes()

    second = start(cached_workdir, embedded_cache, resume_argv(line))
    wait_for_step(second, log, stopped_at + 5)
    code, _ = stop(second, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert complete_checkpoints(out)[-1][0] > stopped_at  # the resumed run went on checkpointing

    done = run_script(cached_workdir, embedded_cache, *resume_argv(line))
    assert done.returncode == 0, done.stderr[-3000:]
    reference = cached_workdir / "reference"
    wa = load_file(str(reference / "model" / "model.safetensors"))
    wb = load_file(str(out / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    assert all(torch.allclose(wa[k], wb[k], rtol=0, atol=1e-6) for k in wa)
    summary_a = json.loads((reference / "evals" / "TOFU_SUMMARY.json").read_text())
    summary_b = json.loads((out / "evals" / "TOFU_SUMMARY.json").read_text())
    assert summary_a.keys() == summary_b.keys()
    assert all(summary_a[k] == pytest.approx(summary_b[k], abs=1e-6) for k in summary_a)
    steps = [json.loads(x)["step"] for x in log.read_text().splitlines()]
    assert steps == list(range(1, TOTAL + 1))
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["resumed_from"][0] == stopped_at and len(provenance["resumed_from"]) == 2
    assert provenance["status"] == "finished"
    assert "--resume" in provenance["command"]
    assert_nothing_half_written(out)
    kept = out / "checkpoints" / f"step-{stopped_at}" / "model.safetensors"
    assert not kept.exists() or kept.read_bytes() == before


def test_a_second_sigterm_stops_at_once_without_half_written_files(cached_workdir, embedded_cache):
    process = start(cached_workdir, embedded_cache, ["run", "-b", "tofu", "-m", "npo", *LONG, "paths.output_dir=o"])
    wait_for_step(process, cached_workdir / "o" / "train_log.jsonl", 4)
    code, stderr = stop(process, signal.SIGTERM, times=2)
    assert code == 143, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith(("Error: stopped by SIGTERM", "Interrupted by SIGTERM"))
    assert_nothing_half_written(cached_workdir / "o")
    assert complete_checkpoints(cached_workdir / "o")  # the periodic ones stay

"""RMU and PDU keep state of their own (RMU's control vector; PDU's dual variable and the epochs it has seen): SIGTERM
mid-run, then the printed resume command, ends with the weights, method state and log of an uninterrupted run."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from faultkit import STEPPY, TINY, run_script, script_env, unlearn_script
from safetensors.torch import load_file

from unlearn_core.training.checkpoint import complete_checkpoints
from unlearn_core.training.method_state import load_method_state

pytestmark = pytest.mark.slow

TOTAL = 24  # 8 epochs of 3 optimizer steps
LONG = [*TINY, *STEPPY, "trainer.args.num_train_epochs=8", "trainer.args.save_strategy=steps"]
LONG += ["trainer.args.save_steps=3", "trainer.args.save_total_limit=2", "eval.metrics=[forget_Q_A_Prob]"]
METHODS = {
    "rmu": [r"trainer.method_args.module_regex=model\.layers\.2"],
    "pdu": ["trainer.method_args.retain_loss_eps=0.05", "trainer.method_args.dual_warmup_epochs=2"],
}


def _log(out: Path) -> list[dict]:
    path = out / "train_log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _state(out: Path) -> dict:
    state = load_method_state(complete_checkpoints(out)[-1][1])
    assert state is not None
    return state


@pytest.mark.parametrize("method", list(METHODS))
def test_sigterm_then_resume_ends_bit_identical_with_the_method_state(cached_workdir, embedded_cache, method):
    argv = ["run", "--benchmark", "tofu", "--method", method, *LONG, *METHODS[method]]
    whole = run_script(cached_workdir, embedded_cache, *argv, "paths.output_dir=whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    out = cached_workdir / "o"
    stopped = subprocess.Popen(
        [unlearn_script(), *argv, "paths.output_dir=o"],
        cwd=cached_workdir,
        env=script_env(embedded_cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while len(_log(out)) < 5:
        assert stopped.poll() is None and time.monotonic() < deadline, stopped.communicate()
        time.sleep(0.02)
    stopped.send_signal(signal.SIGTERM)
    _, stderr = stopped.communicate(timeout=300)
    assert stopped.returncode == 143, stderr[-3000:]
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("Error: stopped by SIGTERM after step ") and f" of {TOTAL};" in line, line
    assert int(line.split("after step ")[1].split()[0]) < TOTAL
    resumed = run_script(cached_workdir, embedded_cache, *shlex.split(line.split("resume with: ", 1)[1])[1:])
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a = load_file(cached_workdir / "whole" / "model" / "model.safetensors")
    b = load_file(out / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _log(out) == _log(cached_workdir / "whole")
    state, expected = _state(out), _state(cached_workdir / "whole")
    assert state.keys() == expected.keys()
    if method == "rmu":
        assert torch.equal(state["control_vector"], expected["control_vector"])
        assert state["control_vector"].shape == (128,)
    else:
        assert state == expected
        # the last checkpoint follows the last step, before the last epoch's end
        assert state["epochs_done"] == 7 and state["dual"] != 1.0  # it moved after the warm-up

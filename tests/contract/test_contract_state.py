"""A method's own state (PDU's dual variable, RMU's control vector): updated by ``on_step_end``/``on_epoch_end``, saved
in every checkpoint without pickle, restored by ``--resume`` so that an interrupted run ends bit-identical."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from contract_methods import plugin_env
from contractkit import STEPPY, TINY, script_env, unlearn, unlearn_command
from safetensors.torch import load_file

from unlearn_core.errors import TrainingError
from unlearn_core.training.checkpoint import complete_checkpoints
from unlearn_core.training.method_state import STATE_JSON, load_method_state, save_method_state

IDK = "data.forget=TOFU_QA_forget_idk"
EVERY_STEP = ("trainer.args.save_strategy=steps", "trainer.args.save_steps=1", "trainer.args.save_total_limit=0")


def log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def final_state(out: Path) -> dict:
    state = load_method_state(complete_checkpoints(out)[-1][1])
    assert state is not None
    return state


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]) if isinstance(value, torch.Tensor) else value == b[key], key


def test_method_state_round_trips_tensors_and_json_values(tmp_path):
    state = {"dual": 0.1 + 0.2, "count": 3, "tags": ["a", {"b": None}], "vector": torch.randn(5, dtype=torch.float64)}
    save_method_state(state, tmp_path)
    assert_same_state(load_method_state(tmp_path), state)
    assert load_method_state(tmp_path / "nothing-here") is None


def test_a_state_value_that_is_neither_tensor_nor_json_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="'handle' \\(object\\)"):
        save_method_state({"handle": object()}, tmp_path)
    assert not (tmp_path / STATE_JSON).exists()


def test_the_dual_variable_rises_after_each_step_from_the_steps_retain_loss(workdir, plugins):
    out = unlearn(plugins, "DualPDU", "o", "trainer.args.save_strategy=epoch").output_dir
    records, state = log(out), final_state(out)
    dual, expected = 1.0, []
    for record in records:
        assert record["dual"] == pytest.approx(dual, rel=1e-12)  # the loss used the value of the step before
        dual = max(0.0, dual + 0.5 * (record["retain_loss"] - 0.5))
        expected.append(dual)
    assert state["history"].tolist() == pytest.approx(expected, rel=1e-12)
    assert state["dual"] == expected[-1] and state["epochs_seen"] == 2


def test_the_dual_variable_rises_after_each_epoch_from_the_mean_retain_loss(workdir, plugins):
    args = ("trainer.method_args.dual_update_upon=epoch", "trainer.args.save_strategy=epoch")
    out = unlearn(plugins, "DualPDU", "o", *args).output_dir
    records, state = log(out), final_state(out)
    history = state["history"].tolist()
    assert len(history) == 2 and state["epochs_seen"] == 2
    assert [r["dual"] for r in records] == [1.0] * 3 + [pytest.approx(history[0], rel=1e-12)] * 3
    first = load_method_state(complete_checkpoints(out)[0][1])
    assert first is not None and first["history"].tolist() == history[:1]


def test_resume_restores_the_method_state_and_ends_bit_identical(workdir, plugins):
    out = unlearn(plugins, "ContractAll", "o", IDK, *EVERY_STEP).output_dir
    weights, state, records = load_file(out / "model" / "model.safetensors"), final_state(out), log(out)
    assert len(records) == 6
    for _, path in complete_checkpoints(out)[2:]:
        shutil.rmtree(path)
    shutil.rmtree(out / "model")
    unlearn(plugins, "ContractAll", "o", IDK, *EVERY_STEP, resume=True)
    again = load_file(out / "model" / "model.safetensors")
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    assert_same_state(final_state(out), state)
    assert log(out) == records


@pytest.mark.slow
def test_sigterm_then_resume_gives_bit_identical_weights_and_state(workdir, embedded_cache):
    """The console script with the test methods installed as a plugin: SIGTERM mid-run checkpoints, and the printed
    resume command finishes with the weights and state of an uninterrupted run."""
    args = ["run", "--benchmark", "tofu", "--method", "DualPDU", *TINY, *STEPPY, "trainer.args.num_train_epochs=15"]
    args.append("trainer.args.save_strategy=epoch")
    env = {**script_env(embedded_cache), **plugin_env(workdir / "site")}
    done = subprocess.run(
        [*unlearn_command(), *args, "paths.output_dir=whole"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stopped = subprocess.Popen(
        [*unlearn_command(), *args, "paths.output_dir=o"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not ((workdir / "o" / "train_log.jsonl").is_file() and len(log(workdir / "o")) >= 8):
        assert stopped.poll() is None and time.monotonic() < deadline, stopped.communicate()
        time.sleep(0.02)
    stopped.send_signal(signal.SIGTERM)
    _, stderr = stopped.communicate(timeout=300)
    assert stopped.returncode == 143, stderr[-3000:]
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("Error: stopped by SIGTERM after step ") and " of 45;" in line, line
    resume = shlex.split(line.split("resume with: ", 1)[1])[1:]
    finished = subprocess.run([*unlearn_command(), *resume], env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    a = load_file(workdir / "whole" / "model" / "model.safetensors")
    b = load_file(workdir / "o" / "model" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert_same_state(final_state(workdir / "o"), final_state(workdir / "whole"))
    assert log(workdir / "o") == log(workdir / "whole")

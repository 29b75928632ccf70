"""``unlearn launch``: shipped configurations by name, the environment a machine without CUDA needs, and one-line
errors for an unknown configuration or command (the launch itself is exercised in tests/distributed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from unlearn_core.cli import main
from unlearn_core.cli_launch import SHIPPED_CONFIGS, launch_argv, launch_environment, shipped_config_names


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_every_shipped_configuration_is_launchable_by_name():
    assert shipped_config_names() == ["ddp", "multinode_zero3", "zero2", "zero3", "zero3_offload"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ddp", {"DS_ACCELERATOR": "cpu", "ACCELERATE_USE_CPU": "1"}),
        ("zero2", {"DS_ACCELERATOR": "cpu"}),
        ("zero3", {"DS_ACCELERATOR": "cpu"}),
    ],
)
def test_without_cuda_ddp_runs_over_gloo_and_deepspeed_stays_quiet(name, expected):
    assert launch_environment(SHIPPED_CONFIGS / f"{name}.yaml", cuda=False) == expected
    assert launch_environment(SHIPPED_CONFIGS / f"{name}.yaml", cuda=True) == {}


def test_command_line_runs_accelerate_with_this_python():
    options = {"num_processes": 4, "machine_rank": None, "main_process_ip": None, "main_process_port": 29501}
    argv = launch_argv(SHIPPED_CONFIGS / "zero3.yaml", ("run", "--method", "npo", "x=1"), **options)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert argv[3:] == [
        "--config_file",
        str(SHIPPED_CONFIGS / "zero3.yaml"),
        "--num_processes",
        "4",
        "--main_process_port",
        "29501",
        "-m",
        "unlearn_core",
        "run",
        "--method",
        "npo",
        "x=1",
    ]


def test_dry_run_prints_environment_and_command(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke("launch", "--dry-run", "ddp", "run", "--benchmark", "tofu")
    assert result.exit_code == 0, result.output
    env_line, command_line = result.output.strip().splitlines()
    assert env_line == "DS_ACCELERATOR=cpu ACCELERATE_USE_CPU=1 UNLEARN_LAUNCH_COMMAND='unlearn launch ddp'"
    assert command_line.endswith("ddp.yaml -m unlearn_core run --benchmark tofu")


def test_multinode_options_reach_accelerate():
    result = invoke(
        "launch", "--dry-run", "--machine-rank", "1", "--main-process-ip", "10.0.0.5", "multinode_zero3", "run"
    )
    assert result.exit_code == 0, result.output
    assert "multinode_zero3.yaml --machine_rank 1 --main_process_ip 10.0.0.5 -m unlearn_core run" in result.output
    assert "'unlearn launch --machine-rank=1 --main-process-ip=10.0.0.5 multinode_zero3'" in result.output


def test_a_yaml_file_of_ones_own_is_accepted(tmp_path: Path):
    config = tmp_path / "mine.yaml"
    config.write_text("distributed_type: MULTI_GPU\nnum_processes: 4\n")
    result = invoke("launch", "--dry-run", str(config), "eval")
    assert result.exit_code == 0 and f"--config_file {config} -m unlearn_core eval" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["zero4", "run"], "unknown accelerate configuration 'zero4': choose one of ddp, multinode_zero3, zero2"),
        (["zero3"], "unlearn launch runs one of run, train, eval; got nothing after zero3"),
        (["zero3", "list-plugins"], "unlearn launch runs one of run, train, eval; got 'list-plugins' after zero3"),
    ],
)
def test_bad_launches_get_one_line_and_exit_2(args, message):
    result = invoke("launch", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]

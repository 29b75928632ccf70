"""Launch set-ups that cannot work (ZeRO stage and method or metric, DeepSpeed and skipping steps, a ZeRO-3 config
that cannot save, device_map with several processes) are refused with one line, exit 2, before any model is loaded
and with no run directory left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import test_cli
from test_cli import TINY, invoke, one_line_error

from unlearn_core.distributed import launch_zero_stage
from unlearn_core.methods import LossOutput, UnlearningMethod

_isolated = test_cli._isolated  # every command in tmp_path with its own cache, offline
model_loads = test_cli.model_loads  # records (and stops) any model load


@pytest.fixture
def zero_stage(monkeypatch: pytest.MonkeyPatch):
    """Set the environment ``accelerate launch --use_deepspeed --zero_stage N`` gives each process."""

    def launch(stage: int) -> None:
        monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
        monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", str(stage))
        monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL", "true")

    return launch


def _refused(*args: str) -> str:
    result = invoke(*args, "paths.output_dir=out")
    assert result.exit_code == 2, result.output
    assert not Path("out").exists()
    return one_line_error(result)


def test_zero3_that_cannot_save_a_whole_model_is_refused(zero_stage, monkeypatch, model_loads):
    zero_stage(3)
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL", "false")
    line = _refused("run", "--benchmark", "tofu", "--method", "npo", *TINY)
    assert "zero3_save_16bit_model: true" in line
    assert model_loads == []


def test_skipping_nonfinite_steps_under_deepspeed_is_refused(zero_stage, model_loads):
    zero_stage(3)
    line = _refused("run", "--benchmark", "tofu", "--method", "graddiff", *TINY, "trainer.args.skip_nonfinite_steps=2")
    assert "skip_nonfinite_steps" in line and "DeepSpeed" in line
    assert model_loads == []


def test_gradnorm_metric_under_zero3_is_refused(zero_stage, model_loads):
    zero_stage(3)
    line = _refused("run", "--benchmark", "tofu", "--method", "npo", *TINY, "eval.metrics=[mia_gradnorm]")
    assert "mia_gradnorm" in line and "unlearn eval" in line
    assert model_loads == []


def test_the_same_settings_pass_the_checks_without_deepspeed(model_loads):
    result = invoke(
        "run",
        "--benchmark",
        "tofu",
        "--method",
        "npo",
        *TINY,
        "trainer.args.skip_nonfinite_steps=2",
        "paths.output_dir=out",
    )
    assert model_loads, result.output  # got as far as building the embedded models


def test_device_map_with_several_processes_is_refused(monkeypatch, model_loads):
    monkeypatch.setenv("WORLD_SIZE", "2")
    line = _refused("run", "--benchmark", "tofu", "--method", "npo", *TINY, "model.model_args.device_map=auto")
    assert "device_map" in line and "2-process" in line
    assert model_loads == []


class DistanceToStart(UnlearningMethod):
    """A method whose loss reads parameter tensors (what ZeRO-3 cannot give it)."""

    name: ClassVar[str] = "DistanceToStart"

    def reads_parameters(self) -> bool:
        return True

    def compute_loss(self, model: Any, batch: Any, reference: Any) -> LossOutput:
        raise AssertionError("never reached")


def test_method_that_reads_parameters_is_refused_under_zero3_only(zero_stage):
    from unlearn_core.config import resolve_config
    from unlearn_core.errors import ConfigError
    from unlearn_core.pipeline.distributed_checks import check_distributed_support
    from unlearn_core.plugins import load_plugins

    cfg = resolve_config("unlearn", load_plugins(), benchmark="tofu", method="npo", overrides=[])
    zero_stage(2)
    check_distributed_support(cfg, DistanceToStart())
    zero_stage(3)
    with pytest.raises(ConfigError, match="method 'DistanceToStart' reads parameter tensors.*ddp or zero2"):
        check_distributed_support(cfg, DistanceToStart())


def test_zero_stage_is_read_from_the_deepspeed_json_the_config_names(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    monkeypatch.delenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", raising=False)
    config = tmp_path / "ds.json"
    config.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_CONFIG_FILE", str(config))
    assert launch_zero_stage() == 3
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "false")
    assert launch_zero_stage() == 0

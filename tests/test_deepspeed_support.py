"""What the loop writes into Accelerate's DeepSpeed config before ``prepare`` (no process group needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from unlearn_core.errors import ConfigError
from unlearn_core.training.deepspeed_support import configure_deepspeed, zero_stage

ARGS = {"per_device_train_batch_size": 4, "max_grad_norm": 1.0}


def accelerator(config: dict[str, Any], stage: int = 3, processes: int = 2) -> Any:
    plugin = SimpleNamespace(deepspeed_config=config, zero_stage=stage)
    return SimpleNamespace(
        distributed_type="DistributedType.DEEPSPEED",
        state=SimpleNamespace(deepspeed_plugin=plugin),
        num_processes=processes,
    )


def test_batch_sizes_clipping_and_no_config_optimizer():
    config = {"optimizer": {"type": "AdamW"}, "scheduler": {"type": "WarmupLR"}, "zero_optimization": {"stage": 2}}
    configure_deepspeed(accelerator(config, stage=2), ARGS)
    assert config == {
        "zero_optimization": {"stage": 2},
        "train_micro_batch_size_per_gpu": 4,
        "gradient_accumulation_steps": 1,
        "train_batch_size": 8,
        "gradient_clipping": 1.0,
    }


def test_offloaded_optimizer_stays_the_runs_own():
    config = {"zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}}}
    configure_deepspeed(accelerator(config), ARGS)
    assert config["zero_force_ds_cpu_optimizer"] is False


def test_forcing_deepspeeds_cpu_adam_is_refused():
    config = {
        "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}},
        "zero_force_ds_cpu_optimizer": True,
    }
    with pytest.raises(ConfigError, match="remove it from the DeepSpeed config"):
        configure_deepspeed(accelerator(config), ARGS)


def test_nothing_changes_without_deepspeed():
    plain = SimpleNamespace(distributed_type="DistributedType.MULTI_CPU")
    configure_deepspeed(plain, ARGS)
    assert zero_stage(plain) == 0
    assert zero_stage(accelerator({}, stage=3)) == 3

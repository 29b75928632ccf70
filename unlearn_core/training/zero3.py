"""DeepSpeed ZeRO-3: loading models partitioned from the start, loading the ones that must stay whole, and wrapping a
frozen model in an inference-only engine so it stays partitioned too."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch

from unlearn_core.distributed import is_partitioned


def partitioned_loading() -> bool:
    """True while ``from_pretrained`` partitions new models across processes (``deepspeed.zero.Init``): under ZeRO-3
    with ``zero3_init_flag``, once the Accelerator exists."""
    try:
        from transformers.integrations import is_deepspeed_zero3_enabled
    except ImportError:
        return False
    return bool(is_deepspeed_zero3_enabled())


@contextlib.contextmanager
def whole_model_loading() -> Iterator[None]:
    """Inside, ``from_pretrained`` loads full weights even under ZeRO-3 (models one process uses on its own: the
    evaluation's reference model, the embedded builds); the partitioning set-up is restored on leaving."""
    if not partitioned_loading():
        yield
        return
    from accelerate.state import AcceleratorState
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        AcceleratorState().deepspeed_plugin.set_deepspeed_weakref()


def inference_engine(model: torch.nn.Module, accelerator: Any) -> torch.nn.Module:
    """``model`` frozen and wrapped in a DeepSpeed engine without optimizer, with the run's ZeRO-3 configuration, so
    its parameters are partitioned like the trained model's (a full model is partitioned here; one loaded
    partitioned gets the forward hooks it needs). Every process must call its forward equally often."""
    import deepspeed

    config = copy.deepcopy(accelerator.state.deepspeed_plugin.deepspeed_config)
    for key in ("optimizer", "scheduler"):
        config.pop(key, None)
    config["train_micro_batch_size_per_gpu"] = 1  # required by DeepSpeed; no training happens
    config["gradient_accumulation_steps"] = 1
    config["train_batch_size"] = accelerator.num_processes
    model.requires_grad_(False)
    engine, *_ = deepspeed.initialize(model=model, config=config)
    engine.eval()
    return engine


def frozen_copy(model: torch.nn.Module, reload: Any) -> torch.nn.Module:
    """A frozen copy of ``model`` in eval mode: a deep copy of a full model; ``reload()`` for a partitioned one (its
    slices cannot be copied)."""
    frozen = reload() if is_partitioned(model) else copy.deepcopy(model)
    frozen.requires_grad_(False)
    return frozen.eval()


def load_into_partitioned(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy full ``tensors`` into a ZeRO-3-partitioned ``model``, one parameter gathered at a time (every process
    takes part; process 0's copy is what gets partitioned back)."""
    import deepspeed
    import torch.distributed as dist

    rank = dist.get_rank() if dist.is_initialized() else 0
    for name, parameter in model.named_parameters():
        with deepspeed.zero.GatheredParameters([parameter], modifier_rank=0):
            if rank == 0:
                with torch.no_grad():
                    parameter.data.copy_(tensors[name])
    for name, buffer in model.named_buffers():
        if name in tensors:
            buffer.data.copy_(tensors[name])

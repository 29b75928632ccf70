"""Multi-process helpers: process-group set-up (gloo on CPU), barriers, DeepSpeed quieting, rank-0-only work."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any


def shard_positions(n: int, rank: int, world_size: int) -> list[int]:
    """Positions of a global order that ``rank`` takes: every ``world_size``-th, padded by wrapping around so every
    rank gets the same count (ranks must run the same number of steps, as DistributedSampler does)."""
    total = math.ceil(n / world_size) * world_size
    return [p % n for p in range(rank, total, world_size)]


def is_partitioned(model: Any) -> bool:
    """True when ``model``'s parameters are ZeRO-3 partitions (each process holds a slice; forwards are collective):
    they carry DeepSpeed's ``ds_id``/``ds_status``."""
    first = next(model.parameters(), None)
    return first is not None and hasattr(first, "ds_id") and hasattr(first, "ds_status")


def world_size() -> int:
    """Processes in this run (``WORLD_SIZE`` set by ``accelerate launch``/torchrun; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """True under a multi-process launch."""
    return world_size() > 1


def using_deepspeed() -> bool:
    """True when ``accelerate launch`` was asked for DeepSpeed."""
    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() in ("1", "true", "yes")


def launch_zero_stage() -> int:
    """The ZeRO stage ``accelerate launch`` asked for (0 without DeepSpeed), known before any model is loaded: from
    ``--zero_stage``/the config file's ``zero_stage``, or from the DeepSpeed JSON file the config names."""
    if not using_deepspeed():
        return 0
    stage = os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE")
    if stage:
        return int(stage)
    config_file = os.environ.get("ACCELERATE_DEEPSPEED_CONFIG_FILE")
    if config_file:
        import json

        try:
            with open(config_file) as f:
                return int(json.load(f).get("zero_optimization", {}).get("stage", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0  # DeepSpeed itself reports an unreadable config file when it starts
    return 0


def zero3_gathers_weights() -> bool:
    """Whether the launch's ZeRO-3 configuration gathers a whole 16-bit/fp32 model for saving (needed for the final
    model and for checkpoints)."""
    flag = os.environ.get("ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL")
    if flag is not None:
        return flag.lower() in ("1", "true", "yes")
    config_file = os.environ.get("ACCELERATE_DEEPSPEED_CONFIG_FILE")
    if config_file:
        import json

        try:
            with open(config_file) as f:
                zero = json.load(f).get("zero_optimization", {})
        except (OSError, ValueError, AttributeError):
            return True  # DeepSpeed itself reports an unreadable config file when it starts
        return bool(
            zero.get("stage3_gather_16bit_weights_on_model_save", zero.get("stage3_gather_fp16_weights_on_model_save"))
        )
    return False


def prepare_deepspeed() -> None:
    """Before DeepSpeed initialises: its logger (which writes to stdout) shows errors only. On a machine without CUDA,
    also pick its CPU accelerator quietly (no stdout warning) and skip its JIT-compiled shared-memory op (a 60-80 s
    C++ build on first use; gloo carries the collectives)."""
    import logging

    import torch

    if not using_deepspeed():
        return
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
        import deepspeed.ops

        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    import deepspeed.utils.logging  # creates the logger at WARNING; lowered only after that

    logging.getLogger("DeepSpeed").setLevel(logging.ERROR)


def process_group_kwargs() -> dict[str, Any]:
    """``backend="gloo"`` for a multi-process run without CUDA (Accelerate would otherwise see one process)."""
    import torch

    return {"backend": "gloo"} if is_distributed() and not torch.cuda.is_available() else {}


def barrier() -> None:
    """Wait for every process (no-op in a single process); starts the process group if nothing has yet."""
    if not is_distributed():
        return
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        from accelerate import PartialState

        prepare_deepspeed()
        # cpu=True is what makes Accelerate build a gloo group on a machine without CUDA
        PartialState(cpu=not torch.cuda.is_available(), **process_group_kwargs())
    dist.barrier()


@contextlib.contextmanager
def main_process_first() -> Iterator[bool]:
    """Run the body on process 0 first, then on the others; yields True on process 0."""
    main = int(os.environ.get("RANK", "0")) == 0
    if not main:
        barrier()
    try:
        yield main
    finally:
        if main:
            barrier()


class LocalAccelerator:
    """A single-process stand-in for ``accelerate.Accelerator`` used for work only process 0 does (building the
    embedded models while the other processes wait): no wrapping, no collectives."""

    num_processes = 1
    process_index = 0
    is_main_process = True
    is_local_main_process = True
    mixed_precision = "no"
    scaler = None
    distributed_type = "NO"

    def __init__(self) -> None:
        import torch

        self.device = (
            torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            if torch.cuda.is_available()
            else (torch.device("cpu"))
        )

    def prepare(self, *objects: Any) -> Any:
        """Return the objects unchanged."""
        return objects if len(objects) != 1 else objects[0]

    def backward(self, loss: Any) -> None:
        """Plain backward."""
        loss.backward()

    def no_sync(self, model: Any) -> contextlib.AbstractContextManager[None]:
        """Nothing to synchronise."""
        return contextlib.nullcontext()

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Full precision."""
        return contextlib.nullcontext()

    def clip_grad_norm_(self, parameters: Any, max_norm: float) -> Any:
        """``torch.nn.utils.clip_grad_norm_``."""
        import torch

        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def unwrap_model(self, model: Any) -> Any:
        """The model itself."""
        return model

    def wait_for_everyone(self) -> None:
        """No other process takes part."""

    def gather(self, value: Any) -> Any:
        """Already complete."""
        return value

    def get_state_dict(self, model: Any) -> dict[str, Any]:
        """The model's own state dict."""
        return model.state_dict()

    def gather_for_metrics(self, value: Any) -> Any:
        """Already complete."""
        return value

    def free_memory(self, *objects: Any) -> None:
        """Nothing to free."""

"""Process-wide setup: the Accelerator, seeding, quiet third-party logs, provenance of a run."""

from __future__ import annotations

import os
import platform
import random
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from unlearn_core.distributed import prepare_deepspeed, process_group_kwargs
from unlearn_core.evaluation.results import METRIC_DEFINITION_VERSION

_ACCELERATOR: Any = None


def quiet_libraries() -> None:
    """Silence import-time and progress noise of transformers/datasets/DeepSpeed (our own bars stay)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # DeepSpeed otherwise prints a warning on stdout at import
    import warnings

    warnings.filterwarnings(
        "ignore", message=r".*(all_gather_into_tensor|reduce_scatter_tensor).*is deprecated", category=FutureWarning
    )
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass


def get_accelerator(mixed_precision: str = "no") -> Any:
    """One Accelerator per process (Accelerate keeps global state); gloo when there is no CUDA."""
    global _ACCELERATOR
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    if _ACCELERATOR is not None and _ACCELERATOR.mixed_precision == mixed_precision:
        return _ACCELERATOR
    if _ACCELERATOR is not None:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=False)

    prepare_deepspeed()
    handlers = [InitProcessGroupKwargs(**process_group_kwargs())] if process_group_kwargs() else []
    _ACCELERATOR = Accelerator(mixed_precision=mixed_precision, kwargs_handlers=handlers)
    return _ACCELERATOR


def mixed_precision_for(args: dict[str, Any]) -> str:
    """``bf16``/``fp16`` when asked for and supported on this device, else ``no``."""
    import torch

    if args.get("bf16"):
        if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            return "no"
        return "bf16"
    if args.get("fp16") and torch.cuda.is_available():
        return "fp16"
    return "no"


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; ``deterministic`` (``trainer.args.full_determinism``) also makes torch use
    deterministic kernels only (an error names an operation that has none), as HF's ``full_determinism`` does."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for deterministic matmuls
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def git_commit(path: Path) -> str | None:
    """The git commit of ``path``'s repository, when there is one."""
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


_COMMAND: list[str] | None = None


def record_command(argv: list[str]) -> None:
    """Remember the command line that started this run (the CLI calls this; the Python API records ``sys.argv``)."""
    global _COMMAND
    _COMMAND = list(argv)


def command_line() -> str:
    """The command line of this run, shell-quoted."""
    import shlex
    import sys

    argv = _COMMAND if _COMMAND is not None else [Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]]
    return shlex.join(argv)


def config_hash(cfg: dict[str, Any]) -> str:
    """SHA-256 of the resolved configuration without where it is written (``paths``, ``task_name``) as canonical
    JSON: equal hashes, same experiment."""
    import hashlib
    import json

    experiment = {k: v for k, v in cfg.items() if k not in ("paths", "task_name")}
    return hashlib.sha256(json.dumps(experiment, sort_keys=True, default=str).encode()).hexdigest()


def provenance(cfg: dict[str, Any], plugin_versions: dict[str, str], accelerator: Any) -> dict[str, Any]:
    """What makes a run reproducible and comparable: config hash, command, versions, seed, world, batch, device."""
    args = cfg["trainer"]["args"]
    world = accelerator.num_processes if accelerator is not None else int(os.environ.get("WORLD_SIZE", "1"))
    packages = {}
    for dist in ("unlearn-core", "torch", "transformers", "accelerate", "datasets", "deepspeed"):
        try:
            packages[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "config_hash": config_hash(cfg),
        "command": command_line(),
        "mode": cfg.get("mode"),
        "benchmark": cfg.get("benchmark"),
        "metric_definition_version": METRIC_DEFINITION_VERSION,
        "packages": packages,
        "plugins": plugin_versions,
        "seed": cfg["seed"],
        "world_size": world,
        "effective_batch_size": args["per_device_train_batch_size"] * args["gradient_accumulation_steps"] * world,
        "dtype": cfg["model"]["model_args"].get("torch_dtype"),
        "mixed_precision": accelerator.mixed_precision if accelerator is not None else "no",
        "device": str(accelerator.device) if accelerator is not None else "cpu",
        "python": platform.python_version(),
        "git_commit": git_commit(Path(__file__).resolve().parent),
    }

"""Helpers of the method-contract tests: tiny settings, in-process runs, console-script runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from unlearn_core.plugins import DISABLE_ENV, Plugins

TINY = [
    "data.embedded.n_authors=10",
    "data.embedded.questions_per_author=6",
    "data.embedded.base_epochs=1",
    "data.embedded.finetune_epochs=1",
    "generation.max_new_tokens=8",
    "eval.metrics=[forget_Q_A_Prob]",
]
"""The embedded default at its smallest (one forget author with six questions), one cheap metric."""
STEPPY = [
    "trainer.args.per_device_train_batch_size=2",
    "trainer.args.gradient_accumulation_steps=1",
    "trainer.args.warmup_epochs=0",
    "trainer.args.lr_scheduler_type=constant",
    "trainer.args.num_train_epochs=2",
]
"""Three optimizer steps per epoch at a constant learning rate: every step changes the weights."""


def unlearn(plugins: Plugins, method: str, out: str, *overrides: str, resume: bool = False) -> Any:
    """``unlearn run --benchmark tofu --method METHOD`` in process, tiny and steppy, into ``out``."""
    from unlearn_core import run

    args = [*TINY, *STEPPY, *overrides, f"paths.output_dir={out}"]
    return run("unlearn", benchmark="tofu", method=method, overrides=args, plugins=plugins, resume=resume)


def unlearn_command() -> list[str]:
    """The ``unlearn`` command of this interpreter."""
    return [sys.executable, "-m", "unlearn_core"]


def script_env(cache: Path) -> dict[str, str]:
    """Environment of a console-script run: offline, one math thread, the shared cache, every plugin enabled."""
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    env.update(UNLEARN_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    return env

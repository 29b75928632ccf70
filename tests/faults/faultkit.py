"""Helpers of the fault-injection suite: tiny settings and models, file checks, console-script runs."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.micro_llama import random_llama
from support.tiny_runs import TOFU_TINY

from unlearn_core.plugins import DISABLE_ENV

TINY = TOFU_TINY
"""The embedded default at its smallest: one forget author with six questions."""

STEPPY = [
    "trainer.args.per_device_train_batch_size=1",
    "trainer.args.gradient_accumulation_steps=2",
]
"""Six micro-batches per epoch, three optimizer steps per epoch: checkpoints fall mid-epoch and mid-accumulation."""


def assert_nothing_half_written(root: Path) -> None:
    """No temporary leftovers; every JSON file parses (strict: no NaN); every JSON-lines line parses."""
    leftovers = [p for p in root.rglob("*") if ".tmp" in p.name or p.name.endswith(".old")]
    assert leftovers == [], leftovers
    for path in root.rglob("*.json"):
        json.loads(path.read_text(), parse_constant=_refuse)
    for path in root.rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line, parse_constant=_refuse)


def _refuse(name: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {name}")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (to check that nothing was lost or changed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tiny_lm(seed: int = 0) -> Any:
    """A randomly initialised two-layer Llama with a 64-token vocabulary (tied embeddings)."""
    return random_llama(seed, vocab_size=64, num_hidden_layers=2, max_position_embeddings=64, tie_word_embeddings=True)


def tiny_samples(n: int = 12, seed: int = 0) -> list[Any]:
    """Random prompt/answer token sequences."""
    from unlearn_core.data import Tokenized

    rng = random.Random(seed)
    return [
        Tokenized(
            tuple(rng.randrange(4, 64) for _ in range(rng.randrange(2, 6))),
            tuple(rng.randrange(4, 64) for _ in range(rng.randrange(2, 6))),
            i,
        )
        for i in range(n)
    ]


def unlearn_script() -> str:
    """The installed console script."""
    return shutil.which("unlearn") or str(Path(sys.executable).parent / "unlearn")


def script_env(cache: Path) -> dict[str, str]:
    """Environment of a console-script run: offline, one math thread, the shared cache."""
    env = {k: v for k, v in os.environ.items() if k != DISABLE_ENV}
    env.update(
        UNLEARN_CACHE_DIR=str(cache),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    return env


def run_script(cwd: Path, cache: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``unlearn ARGS`` to completion."""
    return subprocess.run(
        [unlearn_script(), *args],
        cwd=cwd,
        env=script_env(cache),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def signal_on_call(monkeypatch: pytest.MonkeyPatch, cls: Any, attribute: str, call: int, signum: int) -> None:
    """Send ``signum`` to this process on the ``call``-th call of ``cls.attribute``."""
    original = getattr(cls, attribute)
    calls = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == call:
            os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, attribute, wrapped)

"""Run the selected evaluators (``eval=lm_eval``) on a model, after the benchmark's own evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unlearn_core.pipeline.outputs import is_main_process
from unlearn_core.plugins import Plugins


def run_evaluators(cfg: dict[str, Any], plugins: Plugins, model: Any, tokenizer: Any, out_dir: Path) -> dict[str, Path]:
    """Each evaluator of ``eval.evaluators`` on ``model`` (in eval mode), writing into ``out_dir``; its files."""
    files: dict[str, Path] = {}
    if not cfg["eval"]["evaluators"] or not is_main_process():
        return files
    out_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        for name in cfg["eval"]["evaluators"]:
            files.update(plugins.evaluators.get(name).evaluate(model, tokenizer, cfg, out_dir).files)
    finally:
        model.train(was_training)
    return files

"""Evaluate a loaded model on a benchmark suite and write the result files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearn_core.data import PromptTemplate
from unlearn_core.evaluation.engine import EvaluationEngine
from unlearn_core.evaluation.results import (
    METRIC_DEFINITION_VERSION,
    load_reference_logs,
    summary_of,
    write_results,
)
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.plugins import Plugins


@dataclass
class Evaluation:
    """Results of one model evaluation."""

    results: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    engine: EvaluationEngine | None = None


def selected_keys(cfg: dict[str, Any], suite: EvalSuite) -> list[str]:
    """The entries to compute: ``eval.metrics`` or the suite's defaults; unknown names are errors."""
    from unlearn_core.errors import ConfigError
    from unlearn_core.suggest import unknown_message

    keys = cfg["eval"]["metrics"] or suite.default_keys
    if isinstance(keys, str):
        keys = [keys]
    for key in keys:
        if key not in suite.entries:
            raise ConfigError(unknown_message("metric", key, suite.entries))
    return list(keys)


def eval_manifest(cfg: dict[str, Any], suite: EvalSuite, bench_manifest: dict[str, Any]) -> dict[str, Any]:
    """What is recorded with results and compared against reference logs."""
    return {
        **bench_manifest,
        "metric_definition_version": METRIC_DEFINITION_VERSION,
        "model": cfg["model"]["model_args"].get("pretrained_model_name_or_path") or cfg["model"]["name"],
        "template": cfg["model"]["template_args"],
        "generation": cfg["generation"],
        "max_length": cfg["data"]["max_length"],
        **suite.manifest,
    }


def read_reference(cfg: dict[str, Any], path: str | Path | None, manifest: dict[str, Any], keys: list[str]) -> Any:
    """Load and validate reference logs when ``path`` is given."""
    if path is None:
        return None
    return load_reference_logs(path, manifest, keys)


def evaluate_model(
    model: torch.nn.Module,
    tokenizer: Any,
    cfg: dict[str, Any],
    suite: EvalSuite,
    plugins: Plugins,
    *,
    manifest: dict[str, Any],
    reference_logs: dict[str, Any] | None,
    out_dir: Path | None,
    self_reference: bool = False,
    progress: bool = True,
) -> Evaluation:
    """Compute the selected entries; ``self_reference`` makes the model its own reference (the retain model)."""
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    template = PromptTemplate(tokenizer, cfg["model"]["template_args"], cfg["data"]["max_length"])
    engine = EvaluationEngine(
        model,
        tokenizer,
        template,
        suite,
        plugins.metrics,
        batch_size=cfg["trainer"]["args"]["per_device_eval_batch_size"],
        generation=cfg["generation"],
        reference_logs=reference_logs,
        progress=progress,
    )
    keys = selected_keys(cfg, suite)
    if self_reference:
        needs_ref = [k for k in keys if plugins.metrics.get(suite.entries[k].metric).needs_reference_logs]
        engine.run([k for k in keys if k not in needs_ref] + _reference_inputs(suite, needs_ref))
        engine.reference_logs = dict(engine._results)
    results = engine.run(keys)
    if was_training:
        model.train()
    summary = summary_of(results, suite.summary_keys)
    evaluation = Evaluation(results, summary, seconds=time.perf_counter() - start, engine=engine)
    if out_dir is not None:
        eval_path, summary_path = write_results(out_dir, suite.benchmark, results, suite.summary_keys, manifest)
        evaluation.files = {"eval": eval_path, "summary": summary_path}
    return evaluation


def _reference_inputs(suite: EvalSuite, keys: list[str]) -> list[str]:
    """Entries that reference-needing metrics read from the reference logs (truth ratios, MIA AUCs)."""
    inputs = []
    for key in keys:
        args = suite.entries[key].args
        for arg in ("truth_ratio_key", "mia_key"):
            if arg in args:
                inputs.append(args[arg])
    return inputs


def summary_from_logs(logs: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Headline values from a loaded ``<BENCH>_EVAL.json``."""
    return summary_of({k: v for k, v in logs.items() if isinstance(v, dict)}, keys)

"""Evaluate a loaded model on a benchmark suite and write the result files."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.engine import EvaluationEngine, ReferenceModel
from unlearn_core.evaluation.needs import retain_logs_needs
from unlearn_core.evaluation.partial import PartialResults
from unlearn_core.evaluation.results import (
    METRIC_DEFINITION_VERSION,
    load_retain_logs,
    summary_of,
    write_results,
)
from unlearn_core.evaluation.sharding import can_shard
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.pipeline.mia_reference import mia_reference_loader
from unlearn_core.pipeline.outputs import is_main_process
from unlearn_core.plugins import Plugins
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate


@dataclass
class Evaluation:
    """Results of one model evaluation."""

    results: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    engine: EvaluationEngine | None = None


def selected_keys(cfg: dict[str, Any], suite: EvalSuite) -> list[str]:
    """The entries to compute: ``eval.metrics`` (entry keys or their aliases) or the suite's defaults; unknown
    names are errors listing the valid ones."""
    keys = cfg["eval"]["metrics"] or suite.default_keys
    if isinstance(keys, str):
        keys = [keys]
    selected: list[str] = []
    for key in keys:
        canonical = suite.canonical(key)
        if canonical not in suite.entries:
            raise ConfigError(unknown_message("metric", key, [*suite.entries, *suite.aliases]))
        if canonical not in selected:
            selected.append(canonical)
    return selected


@cache
def installed_versions() -> dict[str, str]:
    """Versions of the core, of every installed ``unlearn`` plugin distribution and of the numeric libraries."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for dist in ("unlearn-core", "torch", "transformers", "scipy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    for ep in metadata.entry_points(group="unlearn"):
        dist = getattr(ep, "dist", None)
        if dist is not None:
            versions[dist.metadata["Name"]] = dist.version
    return dict(sorted(versions.items()))


def _precision(cfg: dict[str, Any]) -> str:
    args = cfg["trainer"]["args"]
    return "bf16" if args.get("bf16") else "fp16" if args.get("fp16") else "no"


def eval_manifest(cfg: dict[str, Any], suite: EvalSuite, bench_manifest: dict[str, Any]) -> dict[str, Any]:
    """What is recorded with results and compared against retain logs (and a resumed evaluation)."""
    return {
        **bench_manifest,
        "checked": [k for k in bench_manifest if k not in ("benchmark", "data_source")],
        "metric_definition_version": METRIC_DEFINITION_VERSION,
        "model": cfg["model"]["model_args"].get("pretrained_model_name_or_path") or cfg["model"]["name"],
        "template": cfg["model"]["template_args"],
        "generation": cfg["generation"],
        "max_length": cfg["data"]["max_length"],
        "eval_batch_size": cfg["trainer"]["args"]["per_device_eval_batch_size"],
        "seed": cfg.get("seed"),
        "trainer_seed": cfg["trainer"]["args"].get("seed"),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "dtype": cfg["model"]["model_args"].get("torch_dtype"),
        "mixed_precision": _precision(cfg),
        "plugin_versions": installed_versions(),
        **suite.manifest,
    }


def read_retain_logs(cfg: dict[str, Any], path: str | Path | None, manifest: dict[str, Any], keys: list[str]) -> Any:
    """Load and validate retain logs when ``path`` is given."""
    if path is None:
        return None
    return load_retain_logs(path, manifest, keys)


def evaluate_model(
    model: torch.nn.Module,
    tokenizer: Any,
    cfg: dict[str, Any],
    suite: EvalSuite,
    plugins: Plugins,
    *,
    manifest: dict[str, Any],
    retain_logs: dict[str, Any] | None,
    out_dir: Path | None,
    self_reference: bool = False,
    progress: bool = True,
    mia_reference: ReferenceModel = None,
    embedded_retain: Path | None = None,
    shard: bool = False,
) -> Evaluation:
    """Compute the selected entries; ``self_reference`` makes the model its own reference (the retain model).

    With ``out_dir`` every finished entry is saved to a partial file as it completes, and entries that an earlier,
    interrupted evaluation of the same model and manifest finished there are reused (see ``evaluation.partial``).
    ``mia_reference`` (a model or a loader) serves ``mia_reference``; by default the retain model is found as
    ``pipeline.mia_reference`` says (``embedded_retain``: the embedded one).
    """
    start = time.perf_counter()
    manifest = {**manifest, "dtype": str(next(model.parameters()).dtype).removeprefix("torch.")}
    if mia_reference is None:
        mia_reference = mia_reference_loader(cfg, retain_logs, next(model.parameters()).device, embedded_retain)
    engine = _engine(model, tokenizer, cfg, suite, plugins, manifest, retain_logs, out_dir, progress, shard)
    engine.set_mia_reference(mia_reference)
    keys = selected_keys(cfg, suite)
    with _eval_mode(model):
        if self_reference:
            _own_retain_logs(engine, suite, plugins, keys)
        results = engine.run(keys)
    evaluation = Evaluation(results, summary_of(results, keys), seconds=time.perf_counter() - start, engine=engine)
    if out_dir is not None and is_main_process():
        eval_path, summary_path = write_results(out_dir, suite.benchmark, results, keys, manifest)
        evaluation.files = {"eval": eval_path, "summary": summary_path}
        if engine.partial is not None:
            engine.partial.remove()
    return evaluation


def _engine(
    model: torch.nn.Module,
    tokenizer: Any,
    cfg: dict[str, Any],
    suite: EvalSuite,
    plugins: Plugins,
    manifest: dict[str, Any],
    retain_logs: dict[str, Any] | None,
    out_dir: Path | None,
    progress: bool,
    shard: bool,
) -> EvaluationEngine:
    """The engine for one evaluation, with its partial-results store when it writes into ``out_dir``."""
    together = shard and can_shard()  # every process takes part (not process 0 alone, building embedded models)
    partial = None
    if out_dir is not None:
        partial = PartialResults.in_dir(out_dir, suite.benchmark, manifest, model, retain_logs, shared=together)
    return EvaluationEngine(
        model,
        tokenizer,
        PromptTemplate(tokenizer, cfg["model"]["template_args"], cfg["data"]["max_length"]),
        suite,
        plugins.metrics,
        batch_size=cfg["trainer"]["args"]["per_device_eval_batch_size"],
        generation=cfg["generation"],
        retain_logs=retain_logs,
        progress=progress,
        partial=partial,
        shard=shard,
    )


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """``model`` in eval mode inside, back in its mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _own_retain_logs(engine: EvaluationEngine, suite: EvalSuite, plugins: Plugins, keys: list[str]) -> None:
    """The retain model is its own reference: compute first what the retain-log readers read, and use that."""
    readers = [k for k in keys if retain_logs_needs(suite, plugins.metrics, [k])]
    engine.run([k for k in keys if k not in readers] + retain_logs_needs(suite, plugins.metrics, readers))
    engine.retain_logs = dict(engine._results)


def summary_from_logs(logs: dict[str, Any], keys: list[str], suite: EvalSuite | None = None) -> dict[str, Any]:
    """Values of ``keys`` from a loaded ``<BENCH>_EVAL.json`` (older files may name an entry by its alias)."""
    entries = {k: v for k, v in logs.items() if isinstance(v, dict)}
    if suite is not None:
        for alias, key in suite.aliases.items():
            if alias in entries and key not in entries:
                entries[key] = entries[alias]
    return summary_of(entries, keys)

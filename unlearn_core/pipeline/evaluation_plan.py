"""Everything a command needs to evaluate models the same way: suite, manifest and validated retain logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unlearn_core.benchmarks import Benchmark
from unlearn_core.config import ExperimentConfig
from unlearn_core.default_plugins.models import uses_embedded_model
from unlearn_core.errors import RetainLogsError
from unlearn_core.evaluation.needs import retain_logs_needs
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.pipeline.embedded import EmbeddedBuilder, EmbeddedModels
from unlearn_core.pipeline.evaluate import (
    Evaluation,
    eval_manifest,
    evaluate_model,
    read_retain_logs,
    selected_keys,
)
from unlearn_core.plugins import Plugins


@dataclass
class EvaluationPlan:
    """A benchmark's suite for this configuration, its manifest, and the retain logs, all checked."""

    cfg: ExperimentConfig
    plugins: Plugins
    bench: Benchmark
    suite: EvalSuite
    manifest: dict[str, Any]
    retain_logs: dict[str, Any] | None
    embedded: EmbeddedModels | None
    keys: list[str]
    """The selected entries (``eval.metrics`` or the benchmark's defaults, aliases resolved)."""

    def evaluate(self, model: Any, tokenizer: Any, out_dir: Path | None, progress: bool = True) -> Evaluation:
        """Evaluate ``model`` with this plan's suite and reference; write result files when ``out_dir`` is given."""
        return evaluate_model(
            model,
            tokenizer,
            self.cfg.values,
            self.suite,
            self.plugins,
            manifest=self.manifest,
            retain_logs=self.retain_logs,
            out_dir=out_dir,
            progress=progress,
            embedded_retain=self.embedded.retain if self.embedded else None,
            shard=True,
        )

    @property
    def labels(self) -> dict[str, str]:
        """Column labels of the summary table (an entry's alias when it has one)."""
        return {key: self.suite.label(key) for key in self.columns}

    @property
    def columns(self) -> list[str]:
        """The summary keys of the final table."""
        return self.bench.columns(self.cfg.values)

    def logs(self, path: Path) -> dict[str, Any]:
        """Read a cached ``<BENCH>_EVAL.json`` of this setting (checked against the manifest)."""
        return read_retain_logs(self.cfg.values, path, self.manifest, [])


def plan_evaluation(cfg: ExperimentConfig, plugins: Plugins, benchmark: str) -> EvaluationPlan:
    """Check metric names and retain logs before any model loads; build the embedded models when used."""
    bench = plugins.benchmarks.get(benchmark)
    suite = bench.eval_suite(cfg.values)
    keys = selected_keys(cfg.values, suite)
    needed = retain_logs_needs(suite, plugins.metrics, keys)
    manifest = eval_manifest(cfg.values, suite, bench.manifest(cfg.values))
    ref_path = cfg.get("retain_logs_path")
    reference = read_retain_logs(cfg.values, ref_path, manifest, needed) if ref_path else None
    embedded = None
    if uses_embedded_model(cfg.values):
        embedded = EmbeddedBuilder(bench, cfg.values, plugins).all()
        if reference is None:
            reference = read_retain_logs(cfg.values, embedded.retain_eval, manifest, needed)
    if reference is None:
        needing = [k for k in keys if retain_logs_needs(suite, plugins.metrics, [k])]
        if needing:
            raise RetainLogsError(
                f"{', '.join(needing)} need the retain model's logs: pass retain_logs_path=<{suite.benchmark.upper()}"
                f"_EVAL.json of the retain model>, or choose metrics with eval.metrics=[...]"
            )
    return EvaluationPlan(cfg, plugins, bench, suite, manifest, reference, embedded, keys)

"""Multi-step unlearning experiments (MUSE scalability and sustainability): one unlearning run per step.

Each step is an ordinary ``unlearn_command`` on a configuration derived from the experiment's (the step's dotted
overrides, its own output subdirectory). A step that continues from the previous one starts from the model that
step saved; every step is evaluated against the same reference (retain model) logs. The experiment prints one table:
the target and retain rows once, then one row per step, and writes ``experiment_summary.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from unlearn_core.benchmarks import ExperimentStep
from unlearn_core.config import ExperimentConfig
from unlearn_core.default_plugins.models import uses_embedded_model
from unlearn_core.pipeline.outputs import begin_run, current_run
from unlearn_core.pipeline.records import RunResult, record_provenance
from unlearn_core.plugins import Plugins
from unlearn_core.training.diskio import write_json

SUMMARY_FILE = "experiment_summary.json"


def _step_config(cfg: ExperimentConfig, step: ExperimentStep, previous_model: str | None) -> ExperimentConfig:
    changes = dict(step.overrides)
    changes["paths.output_dir"] = str(cfg.output_dir / step.name)
    changes["task_name"] = f"{cfg.get('task_name')}/{step.name}"
    if step.continue_from_previous and previous_model is not None:
        changes["model.model_args.pretrained_model_name_or_path"] = previous_model
        changes["model.tokenizer_args.pretrained_model_name_or_path"] = previous_model
        changes["eval.include_target"] = False  # its starting model is the previous step's, already evaluated
    return cfg.derive(**{key.replace(".", "__"): value for key, value in changes.items()})


def _reference_path(cfg: ExperimentConfig, plugins: Plugins) -> str | None:
    """The retain model's logs every step compares against: ``retain_logs_path``, else the embedded retain model's."""
    from unlearn_core.pipeline.embedded import EmbeddedBuilder  # heavy (torch): loaded on first use

    if cfg.get("retain_logs_path"):
        return str(cfg.get("retain_logs_path"))
    if uses_embedded_model(cfg.values):
        bench = plugins.benchmarks.get(cfg.benchmark)
        return str(EmbeddedBuilder(bench, cfg.values, plugins).all().retain_eval)
    return None


def experiment_command(
    cfg: ExperimentConfig, plugins: Plugins, steps: list[ExperimentStep], shared_target: Path | None = None
) -> RunResult:
    """Run ``steps`` in order, each an unlearning run in ``<output_dir>/<step name>``; one row per step
    (``shared_target``: see ``unlearn_command``)."""
    from unlearn_core.pipeline.commands import unlearn_command  # heavy (torch): loaded on first use

    start = time.perf_counter()
    top = current_run(cfg.output_dir)
    with top.setup():
        reference = _reference_path(cfg, plugins)
    base = cfg.derive(retain_logs_path=reference) if reference else cfg
    rows: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    done: list[dict[str, Any]] = []
    previous_model: str | None = None
    columns: list[str] = []
    labels: dict[str, str] = {}
    for step in steps:
        step_cfg = _step_config(base, step, previous_model)
        begin_run(step_cfg.output_dir, step_cfg.values, overwrite=True, resume=False)
        try:
            result = unlearn_command(step_cfg, plugins, shared_target)
        except (Exception, KeyboardInterrupt) as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            error = f"step {step.name}: {exc or type(exc).__name__}"
            record_provenance(cfg, plugins, None, {"steps": done, "error": error}, status=status)
            raise
        columns, labels = result.columns, result.labels
        for name in ("target", "retain"):
            if name not in rows and result.rows.get(name):
                rows[name] = result.rows[name]
        rows[step.name] = result.rows.get("unlearned", {})
        seconds[step.name] = sum(result.seconds.values())
        previous_model = str(result.files.get("model", step_cfg.output_dir / "model"))
        done.append({"name": step.name, "overrides": step.overrides, "output_dir": str(step_cfg.output_dir)})
    write_json(cfg.output_dir / SUMMARY_FILE, {"experiment": cfg.get("experiment"), "steps": done, "rows": rows})
    seconds["total"] = time.perf_counter() - start
    record_provenance(cfg, plugins, None, {"steps": done, "timings": seconds})
    files = {"summary": cfg.output_dir / SUMMARY_FILE, **{s["name"]: cfg.output_dir / s["name"] for s in done}}
    return RunResult(cfg.output_dir, rows=rows, columns=columns, labels=labels, files=files, seconds=seconds)

"""``eval=lm_eval``: lm-evaluation-harness tasks run on the model object with the harness's own code.

Settings (``eval.lm_eval.*``, the reference's names): ``tasks`` (task, group or tag names, or task configurations
as mappings; ``${data_split}`` and other top-level settings are filled in), ``simple_evaluate_args`` (keyword
arguments of ``lm_eval.simple_evaluate``; ``batch_size`` also sizes the model's batches), ``include_path`` (a
directory of task YAML files, for local tasks) and ``include_defaults`` (false: only those local tasks, which
skips indexing the harness's thousands of tasks).

Each task runs in its own ``simple_evaluate`` call with its samples logged. ``LMEval_EVAL.json`` holds the samples
by task, ``LMEval_SUMMARY.json`` the ``task/metric`` values (a group's aggregate for a group), as the reference
writes them. The harness is an optional extra (``pip install 'unlearn-core[lm-eval]'``) and is imported only
here, inside the functions.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar

from unlearn_core.errors import ConfigError, DataError, UnknownNameError
from unlearn_core.evaluators import Evaluator, EvaluatorResult
from unlearn_core.suggest import did_you_mean, unknown_message
from unlearn_core.training.diskio import write_json

OWN_ARGUMENTS = ("model", "model_args", "tasks", "task_manager")
"""``simple_evaluate`` arguments the evaluator sets itself."""
_TASK_MANAGERS: dict[tuple[str | None, bool], Any] = {}


class LMEvalEvaluator(Evaluator):
    """lm-evaluation-harness tasks on the evaluated model (see the module docstring)."""

    name: ClassVar[str] = "lm_eval"
    description: ClassVar[str] = "lm-evaluation-harness tasks (mmlu, wmdp_cyber, ...; needs the lm-eval extra)"
    defaults: ClassVar[dict[str, Any]] = {
        "tasks": ["mmlu"],
        "simple_evaluate_args": {"batch_size": 16, "system_instruction": None, "apply_chat_template": False},
        "include_path": None,
        "include_defaults": True,
    }
    open_sections: ClassVar[tuple[str, ...]] = ("simple_evaluate_args",)

    def check(self, cfg: dict[str, Any]) -> None:
        """One process, the harness installed, every task known to it, ``simple_evaluate`` arguments it takes."""
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError(
                "eval=lm_eval runs in one process: evaluate the saved model with `unlearn eval ... eval=lm_eval`"
            )
        settings = self.settings(cfg)
        settings["tasks"] = [_fill(task, cfg) for task in _task_list(settings.get("tasks"))]
        _check_arguments(settings.get("simple_evaluate_args"))
        manager = task_manager(settings.get("include_path"), settings.get("include_defaults", True))
        for task in settings["tasks"]:
            name = task_name(task)
            if isinstance(task, str) and name not in manager.all_tasks:
                raise UnknownNameError(
                    f"unknown lm-evaluation-harness task '{name}'{did_you_mean(name, manager.all_tasks)}; it knows "
                    f"{len(manager.all_tasks)} tasks (`lm-eval ls tasks` lists them; eval.lm_eval.include_path=DIR "
                    "adds your own)"
                )

    def evaluate(self, model: Any, tokenizer: Any, cfg: dict[str, Any], out_dir: Path) -> EvaluatorResult:
        """Every task through ``simple_evaluate`` on ``model``; the samples and the summary written to ``out_dir``."""
        from lm_eval import simple_evaluate  # optional extra, imported on use
        from lm_eval.models.huggingface import HFLM

        settings = self.settings(cfg)
        args = dict(settings.get("simple_evaluate_args") or {})
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=args.get("batch_size") or 1)
        manager = task_manager(settings.get("include_path"), settings.get("include_defaults", True))
        samples: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        for task in settings["tasks"]:
            name = task_name(task)
            results = simple_evaluate(model=lm, tasks=[task], task_manager=manager, **{"log_samples": True, **args})
            samples[name] = results.get("samples", {})
            summary.update(summarize(results, name, name in manager.all_groups))
        eval_path, summary_path = out_dir / "LMEval_EVAL.json", out_dir / "LMEval_SUMMARY.json"
        write_json(eval_path, _plain(samples))
        write_json(summary_path, summary)
        return EvaluatorResult(summary, {"lm_eval": eval_path, "lm_eval_summary": summary_path})


def task_manager(include_path: str | None, include_defaults: bool) -> Any:
    """The harness's task index (built once per process and settings: indexing every task takes seconds)."""
    try:
        from lm_eval.tasks import TaskManager  # optional extra, imported on use
    except ImportError:
        raise ConfigError(
            "eval=lm_eval needs lm-evaluation-harness: pip install 'unlearn-core[lm-eval]' (or pip install lm-eval)"
        ) from None
    if include_path is not None and not Path(include_path).expanduser().is_dir():
        raise DataError(f"eval.lm_eval.include_path '{include_path}' is not a directory of task YAML files")
    key = (str(Path(include_path).expanduser()) if include_path else None, bool(include_defaults))
    if key not in _TASK_MANAGERS:
        _TASK_MANAGERS[key] = TaskManager(include_path=key[0], include_defaults=key[1])
    return _TASK_MANAGERS[key]


def task_name(task: Any) -> str:
    """A task's name: itself, or the ``task`` key of a task configuration."""
    return task if isinstance(task, str) else str(task["task"])


def summarize(results: dict[str, Any], name: str, is_group: bool) -> dict[str, Any]:
    """``{"name/metric": value}`` of one task (a group's aggregates for a group), without ``alias`` and with the
    harness's ``,filter`` suffix dropped."""
    section = results.get("groups" if is_group else "results", {}).get(name, {})
    out: dict[str, Any] = {}
    for metric, value in section.items():
        if metric == "alias":
            continue
        key = f"{name}/{metric.split(',', 1)[0].strip()}"
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def _task_list(tasks: Any) -> list[Any]:
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError(f"eval.lm_eval.tasks must be a non-empty list of task names, got {tasks!r}")
    for task in tasks:
        if not isinstance(task, str) and not (isinstance(task, dict) and isinstance(task.get("task"), str)):
            raise ConfigError(f"eval.lm_eval.tasks: {task!r} is neither a task name nor a mapping with a 'task' key")
    return tasks


def _fill(task: Any, cfg: dict[str, Any]) -> Any:
    """``${key}`` in task names filled from the run's top-level settings (``wmdp_${data_split}``)."""
    if isinstance(task, dict):
        return {k: _fill(v, cfg) for k, v in task.items()}
    if not isinstance(task, str):
        return task

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if not isinstance(cfg.get(key), str):
            raise ConfigError(f"eval.lm_eval.tasks: '{task}' names the setting '{key}', which this run does not have")
        return cfg[key]

    return re.sub(r"\$\{(\w+)\}", value, task)


def _check_arguments(args: Any) -> None:
    if args is None:
        return
    if not isinstance(args, dict):
        raise ConfigError(f"eval.lm_eval.simple_evaluate_args must be a mapping, got {args!r}")
    try:
        from lm_eval import simple_evaluate  # optional extra, imported on use
    except ImportError:
        raise ConfigError(
            "eval=lm_eval needs lm-evaluation-harness: pip install 'unlearn-core[lm-eval]' (or pip install lm-eval)"
        ) from None
    accepted = [p for p in inspect.signature(simple_evaluate).parameters if p not in OWN_ARGUMENTS]
    for key in args:
        if key not in accepted:
            raise UnknownNameError(unknown_message("eval.lm_eval.simple_evaluate_args key", key, accepted))


def _plain(value: Any) -> Any:
    """JSON-ready data: numpy values as Python numbers, anything else JSON cannot hold as its text."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))

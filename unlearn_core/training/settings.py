"""Checks of the checkpoint, best-model and non-finite ``trainer.args`` (before any model loads), best tracking."""

from __future__ import annotations

import math
from typing import Any

from unlearn_core.errors import ConfigError
from unlearn_core.training.tracking import tracker_names


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_training_args(args: dict[str, Any], mode: str) -> None:
    """Raise ConfigError (exit 2) for inconsistent save/eval/best-model/skip settings or an unknown or uninstalled
    tracker in ``report_to``."""
    tracker_names(args.get("report_to"))
    _check_eval_steps(args)
    if args.get("save_strategy") == "steps" and not (_is_int(args.get("save_steps")) and args["save_steps"] >= 1):
        raise ConfigError("'trainer.args.save_strategy=steps' needs 'trainer.args.save_steps=N' (N >= 1)")
    limit = args.get("save_total_limit")
    if limit is not None and not (_is_int(limit) and limit >= 0):
        raise ConfigError(f"'trainer.args.save_total_limit' must be an integer >= 0 (0 keeps all), got {limit!r}")
    skips = args.get("skip_nonfinite_steps", 0)
    if not (_is_int(skips) and skips >= 0):
        raise ConfigError(f"'trainer.args.skip_nonfinite_steps' must be an integer >= 0, got {skips!r}")
    metric = args.get("metric_for_best_model")
    greater = args.get("greater_is_better")
    if greater is not None and not isinstance(greater, bool):
        raise ConfigError(f"'trainer.args.greater_is_better' must be true or false, got {greater!r}")
    if args.get("load_best_model_at_end") not in (None, True, False):
        raise ConfigError("'trainer.args.load_best_model_at_end' must be true or false")
    if args.get("load_best_model_at_end") and not metric:
        raise ConfigError(
            "'trainer.args.load_best_model_at_end=true' needs 'trainer.args.metric_for_best_model=NAME' "
            "(a summary metric, e.g. forget_quality)"
        )
    if metric is None:
        return
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"'trainer.args.metric_for_best_model' must be a metric name, got {metric!r}")
    if mode != "unlearn":
        raise ConfigError(
            "'trainer.args.metric_for_best_model' needs evaluation during training, which only 'unlearn run' does"
        )
    if args.get("eval_strategy", "no") == "no":
        raise ConfigError(
            "'trainer.args.metric_for_best_model' needs evaluation during training: set "
            "'trainer.args.eval_strategy=steps|epoch'"
        )


class BestTracker:
    """Remembers the best evaluation by ``metric_for_best_model`` (higher is better unless told otherwise)."""

    def __init__(self, args: dict[str, Any], best: dict[str, Any] | None = None) -> None:
        self.metric: str | None = args.get("metric_for_best_model") or None
        greater = args.get("greater_is_better")
        self.greater = greater if greater is not None else not (self.metric or "").endswith("loss")
        self.load_at_end = bool(args.get("load_best_model_at_end"))
        self.best = best

    def update(self, record: dict[str, Any], step: int) -> bool:
        """Take an evaluation record; True when it is a new best."""
        if self.metric is None:
            return False
        value = record.get(self.metric)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return False
        if self.best is not None:
            old = self.best["value"]
            if (value <= old) if self.greater else (value >= old):
                return False
        self.best = {"metric": self.metric, "value": float(value), "step": step}
        return True


def _check_eval_steps(args: dict[str, Any]) -> None:
    """``eval_steps``: a number of steps (N >= 1) or, as in HF Trainer, a share of the run's steps (0 < x < 1)."""
    steps = args.get("eval_steps")
    if steps is None:
        return
    number = isinstance(steps, (int, float)) and not isinstance(steps, bool)
    if number and float(steps).is_integer() and steps >= 1:
        args["eval_steps"] = int(steps)
    elif not (number and 0 < steps < 1):
        raise ConfigError(
            f"'trainer.args.eval_steps' must be a number of steps (>= 1) or a share of the run's steps (0 < x < 1), "
            f"got {steps!r}"
        )


def eval_interval(eval_steps: Any, total_steps: int) -> int:
    """Steps between evaluations: ``eval_steps``, or a share of ``total_steps`` rounded up (HF Trainer's rule)."""
    if eval_steps is None:
        return 1
    if isinstance(eval_steps, float) and eval_steps < 1:
        return max(1, math.ceil(eval_steps * total_steps))
    return int(eval_steps)

"""Experiment tracking (``trainer.args.report_to``) through Accelerate's trackers, under HF Trainer's key names.

``report_to=[tensorboard]`` (or ``wandb``, ``mlflow``, ``trackio``; ``all`` is every one installed, ``none`` or
``[]`` none) logs each optimizer step as ``train/loss``, ``train/learning_rate``, ``train/grad_norm``,
``train/epoch`` and ``train/<loss term>``, and each evaluation summary as ``eval/<key>``: the names HF Trainer uses,
so dashboards read the same. Local logs go to ``trainer.args.logging_dir`` (``<output_dir>/runs`` by default). Only
process 0 logs; the embedded models' builds never do.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from unlearn_core.errors import ConfigError
from unlearn_core.suggest import unknown_message

TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}
"""Tracker name -> the package it needs."""
LOGGING_DIR = "runs"
PROJECT = "unlearn"
"""The W&B / Trackio project and the MLflow experiment that runs are logged under."""
NOT_LOGGED = ("step",)


def installed(name: str) -> bool:
    """Whether the package behind tracker ``name`` can be imported (checked without importing it)."""
    return importlib.util.find_spec(TRACKER_PACKAGES[name]) is not None


def tracker_names(value: Any) -> list[str]:
    """The trackers ``report_to`` asks for; unknown names and uninstalled packages are ConfigErrors (exit 2)."""
    names = [value] if isinstance(value, str) else list(value or [])
    if names in (["none"], ["None"]):
        return []
    if "all" in names:
        return [name for name in TRACKER_PACKAGES if installed(name)]
    chosen: list[str] = []
    for name in names:
        if name not in TRACKER_PACKAGES:
            raise ConfigError(unknown_message("tracker in trainer.args.report_to", str(name), [*TRACKER_PACKAGES]))
        if not installed(name):
            package = TRACKER_PACKAGES[name]
            raise ConfigError(
                f"trainer.args.report_to={name} needs the package '{package}', which is not installed: "
                f"pip install {package}" + (" (or the 'tracking' extra)" if name == "tensorboard" else "")
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def hparams(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The configuration as flat ``a.b.c`` keys with scalar values (what every tracker's hyperparameter view takes;
    lists and None become JSON text)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(hparams(value, name))
        else:
            flat[name] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value, default=str)
    return flat


def _make(name: str, run_name: str, logging_dir: Path) -> Any:
    from accelerate import tracking

    if name == "tensorboard":
        return tracking.TensorBoardTracker("", logging_dir)
    if name == "wandb":
        return tracking.WandBTracker(PROJECT, name=run_name, dir=str(logging_dir))
    if name == "mlflow":
        return tracking.MLflowTracker(experiment_name=PROJECT, run_name=run_name)
    return tracking.TrackioTracker(PROJECT, name=run_name)


class RunTracker:
    """The trackers of one run: started with its configuration, told of each step and evaluation, then finished."""

    def __init__(self, trackers: list[Any] | None = None) -> None:
        self.trackers = list(trackers or [])
        self.eval_steps: set[int] = set()

    @classmethod
    def start(cls, names: list[str], *, run_name: str, logging_dir: Path, config: dict[str, Any]) -> RunTracker:
        """Start ``names`` on process 0 (no tracker elsewhere) and record the configuration as hyperparameters."""
        if not names or os.environ.get("RANK", "0") != "0":
            return cls()
        logging_dir.mkdir(parents=True, exist_ok=True)
        trackers = []
        for name in names:
            tracker = _make(name, run_name, logging_dir)
            if hasattr(tracker, "start"):  # Accelerate >= 1.2 starts a tracker apart from building it
                tracker.start()
            tracker.store_init_configuration(hparams(config))
            trackers.append(tracker)
        return cls(trackers)

    def _log(self, values: dict[str, Any], step: int) -> None:
        for tracker in self.trackers:
            tracker.log(values, step=step)

    def log_train(self, record: dict[str, Any]) -> None:
        """One optimizer step's record (``train_log.jsonl``) as ``train/<key>``."""
        if self.trackers:
            self._log(prefixed("train", record), int(record["step"]))

    def log_eval(self, summary: dict[str, Any], step: int, final: bool = False) -> None:
        """An evaluation summary as ``eval/<key>``; the final one only when no evaluation was logged at ``step``."""
        if not self.trackers or (final and step in self.eval_steps):
            return
        self.eval_steps.add(step)
        self._log(prefixed("eval", {k: v for k, v in summary.items() if k != "epoch"}), step)

    def finish(self) -> None:
        """Close every tracker (flushes TensorBoard's events)."""
        for tracker in self.trackers:
            tracker.finish()
        self.trackers = []


def prefixed(prefix: str, record: dict[str, Any]) -> dict[str, float]:
    """The numeric values of ``record`` under ``prefix/`` (``loss`` -> ``train/loss``), as HF Trainer names them."""
    return {
        f"{prefix}/{key}": float(value)
        for key, value in record.items()
        if key not in NOT_LOGGED and isinstance(value, (int, float)) and not isinstance(value, bool)
    }

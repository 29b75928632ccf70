"""Built-in metrics, registered through the same hook a third-party metric plugin uses."""

from __future__ import annotations

from typing import Any

from unlearn_core.evaluation.builtin import BUILTIN_METRICS
from unlearn_core.hookspecs import hookimpl


@hookimpl
def register_metrics(register: Any) -> None:
    """Register every built-in metric (``unlearn_core.evaluation.builtin``)."""
    for metric in BUILTIN_METRICS:
        register(metric.name, metric)

"""Built-in metrics, registered through the same hook a third-party metric plugin uses."""

from __future__ import annotations

from typing import Any

from unlearn_core.hookspecs import hookimpl


@hookimpl
def register_metrics(register: Any) -> None:
    """Register every metric of ``unlearn_core.evaluation.builtin_metrics``."""
    from unlearn_core.evaluation.builtin_metrics import builtin_metrics

    for metric in builtin_metrics():
        register(metric.name, metric)

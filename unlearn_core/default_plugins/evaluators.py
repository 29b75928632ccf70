"""Built-in evaluators, registered through the same hook a third-party evaluator plugin uses."""

from __future__ import annotations

from typing import Any

from unlearn_core.hookspecs import hookimpl
from unlearn_core.lm_harness import LMEvalEvaluator


@hookimpl
def register_evaluators(register: Any) -> None:
    """Register ``lm_eval`` (lm-evaluation-harness; the harness itself is imported only when it runs)."""
    register(LMEvalEvaluator.name, LMEvalEvaluator())

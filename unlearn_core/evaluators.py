"""The evaluator contract: an evaluation that runs besides the benchmark's own, on the same model object.

``eval=NAME`` (or ``eval.evaluators=[NAME, ...]``) selects an evaluator registered with ``register_evaluators``;
its settings are the ``eval.<NAME>`` section, which starts as the evaluator's ``defaults``. The core checks the
section with ``check`` while it resolves the configuration (before any model loads), and calls ``evaluate`` after
the benchmark's evaluation of ``unlearn eval`` and at the end of ``unlearn run``, with the directory the
benchmark's result files go to. lm-evaluation-harness is the built-in one (``eval=lm_eval``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class EvaluatorResult:
    """What an evaluator produced: summary values (``task/metric`` keys) and the files it wrote, by role."""

    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


class Evaluator(ABC):
    """Base class of evaluators, registered with ``register_evaluators``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    """The ``eval.<name>`` section with its default values (an override of another key is an error)."""
    open_sections: ClassVar[tuple[str, ...]] = ()
    """Sub-sections of ``eval.<name>`` that take any key (passed through to a library call and checked there)."""

    def settings(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """This evaluator's ``eval.<name>`` section of ``cfg``."""
        return cfg["eval"][self.name]

    @abstractmethod
    def check(self, cfg: dict[str, Any]) -> None:
        """Check (and complete in place) the ``eval.<name>`` section before any model loads; ConfigError names the
        key and the valid choices."""

    @abstractmethod
    def evaluate(self, model: Any, tokenizer: Any, cfg: dict[str, Any], out_dir: Path) -> EvaluatorResult:
        """Evaluate ``model`` (in eval mode, on its device) and write the result files into ``out_dir``."""

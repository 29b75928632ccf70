"""What a benchmark evaluates: its data sets and the metric entries computed on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class EvalDataset:
    """Rows of one evaluation set and how to turn them into prompts.

    ``kind="qa"`` formats ``question_field`` with the model's template (answers are scored after it);
    ``kind="text"`` scores raw text after BOS (membership attacks on documents) or continues ``question_field``
    verbatim without a template (verbatim memorisation).
    """

    name: str
    rows: list[dict[str, Any]]
    question_field: str = "question"
    kind: Literal["qa", "text"] = "qa"
    few_shot: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class MetricEntry:
    """One result key (``forget_Q_A_Prob``): a registered metric applied to a data set with arguments."""

    key: str
    metric: str
    dataset: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


class LazyFunction:
    """A function named ``module:attr``, imported on first call (keeps plugin registration free of torch)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fn: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            import importlib

            module, _, attr = self.path.partition(":")
            self._fn = getattr(importlib.import_module(module), attr)
        return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyFunction({self.path!r})"


@dataclass
class Metric:
    """A registered metric: ``compute(context, entry)`` returns a result dict in the reference layout."""

    name: str
    compute: Callable[[Any, MetricEntry], dict[str, Any]]
    description: str = ""
    needs_reference_logs: bool = False


@dataclass
class EvalSuite:
    """Everything one benchmark evaluation needs."""

    benchmark: str
    datasets: dict[str, EvalDataset]
    entries: dict[str, MetricEntry]
    default_keys: list[str]
    summary_keys: list[str]
    manifest: dict[str, Any] = field(default_factory=dict)

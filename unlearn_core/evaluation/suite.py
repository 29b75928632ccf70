"""What a benchmark evaluates: its data sets and the metric entries computed on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class EvalDataset:
    """Rows of one evaluation set and how to turn them into prompts.

    ``kind="qa"`` formats ``question_field`` with the model's template (answers are scored after it);
    ``kind="text"`` scores a field as a completion of ``question_field`` without a template (verbatim
    memorisation; ``insert_space`` puts a space between the two), or, when the scored field is ``question_field``
    itself, as a whole document after BOS (membership attacks on documents).
    """

    name: str
    rows: list[dict[str, Any]]
    question_field: str = "question"
    kind: Literal["qa", "text"] = "qa"
    few_shot: list[tuple[str, str]] = field(default_factory=list)
    insert_space: bool = False


@dataclass
class MetricEntry:
    """One result key (``forget_Q_A_Prob``): a registered metric applied to a data set with arguments."""

    key: str
    metric: str
    dataset: str | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        """What the entry computes, stored with its result (``unlearn report`` and resuming read it)."""
        return {"metric": self.metric, "dataset": self.dataset, "args": dict(self.args)}


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
    """A registered metric: ``compute(context, entry)`` returns a result dict in the reference layout.

    Optional hooks let a plugin metric join the fused pass and the report: ``inputs(entry)`` lists the
    ``(data set, answer field)`` pairs it scores (``needs_z``: it reads Min-K%++ z-scores), ``depends(entry)`` the
    entries it reads, and ``recompute(result, entry_results, reference_logs)`` returns its aggregate from its saved
    per-sample values.
    """

    name: str
    compute: Callable[[Any, MetricEntry], dict[str, Any]]
    description: str = ""
    needs_reference_logs: bool = False
    inputs: Callable[[MetricEntry], list[tuple[str, str]]] | None = None
    depends: Callable[[MetricEntry], list[str]] | None = None
    recompute: Callable[..., Any] | None = None
    needs_z: bool = False


@dataclass
class EvalSuite:
    """Everything one benchmark evaluation needs.

    ``aliases`` maps other names of entries (short names users know) to their keys: ``eval.metrics`` accepts
    them, and tables show them as column labels.
    """

    benchmark: str
    datasets: dict[str, EvalDataset]
    entries: dict[str, MetricEntry]
    default_keys: list[str]
    summary_keys: list[str]
    manifest: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def canonical(self, key: str) -> str:
        """The entry key that ``key`` (an entry key or an alias) names; unknown names are returned as they are."""
        return self.aliases.get(key, key)

    def label(self, key: str) -> str:
        """How a table shows entry ``key``: its alias when it has one."""
        return next((alias for alias, target in self.aliases.items() if target == key), key)

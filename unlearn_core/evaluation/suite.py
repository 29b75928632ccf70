"""What a benchmark evaluates: its data sets and the metric entries computed on them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class EvalDataset:
    """Rows of one evaluation set and how to turn them into prompts.

    ``kind="qa"`` formats ``question_field`` with the model's template (answers are scored after it);
    ``kind="text"`` scores a field as a completion of ``question_field`` without a template (verbatim
    memorisation; ``insert_space`` puts a space between the two), or, when the scored field is ``question_field``
    itself, as a whole document after BOS (membership attacks on documents); ``kind="choice"`` scores each string of
    a list field as a continuation of the ``question_field`` text by lm-evaluation-harness's token rule
    (``choice_tokens``; ``insert_space``: the harness's target delimiter, a space before each choice).
    """

    name: str
    rows: list[dict[str, Any]]
    question_field: str = "question"
    kind: Literal["qa", "text", "choice"] = "qa"
    few_shot: list[tuple[str, str]] = field(default_factory=list)
    insert_space: bool = False


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass
class MetricEntry:
    """One result key (``forget_Q_A_Prob``): a registered metric applied to a data set, with its typed arguments
    (an instance of the metric's ``args`` class; ``unlearn_core.entries`` builds the built-in ones)."""

    key: str
    metric: str
    dataset: str | None = None
    args: Any = None

    def definition(self) -> dict[str, Any]:
        """What the entry computes, stored with its result (``unlearn report`` and resuming read it)."""
        return {"metric": self.metric, "dataset": self.dataset, "args": plain(self.args) if self.args else {}}


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
    manifest: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def canonical(self, key: str) -> str:
        """The entry key that ``key`` (an entry key or an alias) names; unknown names are returned as they are."""
        return self.aliases.get(key, key)

    def label(self, key: str) -> str:
        """How a table shows entry ``key``: its alias when it has one."""
        return next((alias for alias, target in self.aliases.items() if target == key), key)

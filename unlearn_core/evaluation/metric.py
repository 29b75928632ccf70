"""The metric contract: what a metric scores and generates, what it builds on, and how it is computed and recomputed.

Built-in metrics are declared exactly as a plugin declares one (``evaluation/builtin/``) and registered through the
same ``register_metrics`` hook. Before computing anything the engine asks every selected entry's metric what it
needs (``scores``, ``generates``, ``depends``, ``retain_logs``), so that all answer fields of a data set are scored
in one fused pass and every prompt set is generated once, whoever asks; ``compute`` then reads those caches through
the ``EvaluationContext``. ``recompute`` lets ``unlearn report`` derive the aggregate again from the stored
per-sample values.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from unlearn_core.evaluation.suite import EvalDataset, EvalSuite, MetricEntry


@dataclass(frozen=True)
class Score:
    """Per-sample statistics an entry reads: ``field`` of ``dataset`` scored by the evaluated model (by the MIA's
    reference model when ``mia_reference``); ``z``: it reads the Min-K%++ z-scores (the costliest statistic)."""

    dataset: str
    field: str
    z: bool = False
    mia_reference: bool = False


@dataclass(frozen=True)
class Generate:
    """Greedy generations an entry reads: from the prompts of ``dataset`` (``question_field``, by default the data
    set's own), at most ``max_new_tokens`` (by default ``generation.max_new_tokens``), cut at the ``stop`` strings.
    ``draft_field`` names an answer field the decoding may use as a draft (faster; the output does not change)."""

    dataset: str
    question_field: str | None = None
    max_new_tokens: int | None = None
    stop: tuple[str, ...] = ()
    draft_field: str | None = None


class EvaluationContext(Protocol):
    """What a metric's ``compute`` sees of the evaluation engine (every value is computed once and cached)."""

    def dataset(self, name: str) -> EvalDataset:
        """An evaluation data set of the suite."""
        ...

    def stats(self, dataset: str, field: str, *, mia_reference: bool = False, need_z: bool = False) -> list[Any]:
        """Per-row ``SampleStatistics`` of ``field`` (a list per row for a list field)."""
        ...

    def generations(self, request: Generate) -> list[str]:
        """Greedy generations, one per row, decoded and cut as the reference does."""
        ...

    def ground_truths(self, dataset: str, field: str, question_field: str | None = None) -> list[Any]:
        """Per row the text ROUGE compares with (derived from the scored ids; a list for a list field)."""
        ...

    def inputs(self, dataset: str, question_field: str | None = None) -> list[str]:
        """Per row the generation prompt as text."""
        ...

    def target_texts(self, dataset: str, field: str) -> list[Any]:
        """Per row the scored target ids, decoded."""
        ...

    def texts(self, dataset: str, field: str) -> list[Any]:
        """Per row the raw value of ``field``."""
        ...

    def result(self, key: str) -> dict[str, Any]:
        """Another entry's result (computed first if needed)."""
        ...

    def retain_log(self, key: str) -> dict[str, Any]:
        """Entry ``key`` of the retain model's logs (``retain_logs_path``)."""
        ...

    def gradnorm_scores(self, dataset: str, field: str) -> list[float]:
        """Per-sample gradient norms (their own passes, with gradients)."""
        ...

    def classifier(self, path: str) -> tuple[Any, Any]:
        """A sequence classifier and its tokenizer, loaded once."""
        ...


class RecomputeContext(Protocol):
    """What a metric's ``recompute`` sees while ``unlearn report`` checks one stored entry."""

    args: Any
    """The entry's arguments (the metric's ``args`` class, rebuilt from the stored definition)."""
    retain_logs: dict[str, Any] | None

    def value(self, key: str) -> float | None:
        """The recomputed aggregate of another entry of the file."""
        ...

    def samples(self, key: str) -> list[Any]:
        """The recomputed per-sample values of another entry (truth ratios)."""
        ...

    def keep_samples(self, values: list[Any]) -> None:
        """Offer this entry's per-sample values to the entries that build on it."""
        ...

    def compare(self, stored: Any, derived: Any) -> Any:
        """Count a stored per-sample value that does not follow from its inputs; returns ``derived``."""
        ...

    def note(self, text: str) -> None:
        """A remark shown with the entry (an inferred setting, a value taken as stored)."""
        ...


def _nothing(*_: Any) -> list[Any]:
    return []


@dataclass
class Metric:
    """A registered metric.

    ``compute(context, entry)`` returns the entry's result in the reference layout (``agg_value`` and, per sample,
    ``value_by_index``). ``args`` is the class of its entries' arguments (a dataclass). ``scores(entry, suite)`` and
    ``generates(entry, suite)`` say which statistics and generations it reads, ``depends(entry)`` which other entries,
    and ``retain_logs(entry)`` which entries of the retain model's logs. ``recompute(context, stored)`` returns the
    aggregate again from a stored result (None: ``unlearn report`` skips it).
    """

    name: str
    compute: Callable[[EvaluationContext, MetricEntry], dict[str, Any]]
    description: str = ""
    args: type | None = None
    scores: Callable[[MetricEntry, EvalSuite], Sequence[Score]] = _nothing
    generates: Callable[[MetricEntry, EvalSuite], Sequence[Generate]] = _nothing
    depends: Callable[[MetricEntry], Sequence[str]] = _nothing
    retain_logs: Callable[[MetricEntry], Sequence[str]] = _nothing
    recompute: Callable[[RecomputeContext, dict[str, Any]], float | None] | None = None

    def needs_retain_logs(self, entry: MetricEntry) -> bool:
        """Whether ``entry`` reads the retain model's logs."""
        return bool(self.retain_logs(entry))

    def check(self, entry: MetricEntry) -> None:
        """TypeError unless ``entry``'s arguments are of this metric's ``args`` class."""
        if self.args is not None and not isinstance(entry.args, self.args):
            raise TypeError(
                f"entry '{entry.key}' of metric '{self.name}' needs {self.args.__name__} arguments, "
                f"got {type(entry.args).__name__}"
            )

    def arguments(self, stored: dict[str, Any] | None) -> Any:
        """The typed arguments of a stored definition (``unlearn report``); the plain dict when it does not fit."""
        if self.args is None or not dataclasses.is_dataclass(self.args) or not isinstance(stored, dict):
            return stored
        names = {f.name for f in dataclasses.fields(self.args)}
        try:
            return self.args(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in names})
        except TypeError:
            return stored


@dataclass
class LazyFunction:
    """A function named ``module:attr``, imported on first call (keeps plugin registration free of heavy imports)."""

    path: str
    _fn: Callable[..., Any] | None = field(default=None, repr=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            module, _, attr = self.path.partition(":")
            self._fn = getattr(importlib.import_module(module), attr)
        return self._fn(*args, **kwargs)

"""Named data sets: what ``data.forget=`` / ``data.retain=`` accept (the reference's dataset config names).

A benchmark declares each one (where its rows are and what kind of samples they make) and registers it through
``register_datasets``; the core checks that a name given for a run belongs to that run's benchmark, and the
benchmark loads it with ``load_named``, by the reference's token rules.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError, DataError
from unlearn_core.token_rules import PromptTemplate

DATA_KEYS = ("forget", "retain")
"""The ``data.*`` keys that name data sets."""
Rows = Callable[[str], list[dict[str, Any]]]
"""The rows of a split address (a ``RowStore`` bound to the run's source)."""
ALTERNATE = "alternate"
"""The extra answer drawn from a data set's ``alternates`` (an "I don't know" response, for instance)."""


@dataclass(frozen=True)
class NamedDataset:
    """A data set of ``benchmark`` that users can name in ``data.forget=`` and ``data.retain=``.

    ``splits``: the split addresses it reads, with ``{setting}`` fields filled in from the run
    (``("{forget_split}",)``). ``kind``: ``qa`` (``question`` and ``answer`` fields; a list answer field makes one
    sample per answer; ``few_shot``: the address of rows put before every question), ``completion`` (``text``
    after ``prefix``, ``insert_space`` between them) or ``documents`` (``text`` joined and chunked).

    Loaded as forget data, a QA sample also carries its row's other answers as ``Tokenized.extras``: every other
    string field named ``answer`` or ``*_answer``, and with ``alternates`` (the run's configuration to a list of
    responses) an ``alternate`` answer drawn for each row from those responses with the run's ``seed``.
    """

    name: str
    benchmark: str
    splits: tuple[str, ...] = ()
    kind: Literal["qa", "completion", "documents"] = "qa"
    description: str = ""
    question: str = "question"
    answer: str = "answer"
    few_shot: str | None = None
    prefix: str = "prompt"
    text: str = "text"
    insert_space: bool = False
    alternates: Callable[[dict[str, Any]], list[str]] | None = None

    def addresses(self, cfg: dict[str, Any]) -> list[str]:
        """The split addresses for this run ({setting} fields filled in from its top-level settings)."""
        try:
            return [split.format(**cfg) for split in self.splits]
        except KeyError as exc:
            raise ConfigError(f"data set '{self.name}' needs the setting {exc.args[0]}") from None


def load_named(
    dataset: NamedDataset, cfg: dict[str, Any], rows_of: Rows, template: PromptTemplate, *, extras: bool = False
) -> list[Tokenized]:
    """The samples of ``dataset`` for this run, tokenised by the reference's rules (indexes 0, 1, ...); with
    ``extras`` (forget data), QA samples carry their row's other answers (see ``NamedDataset``)."""
    rows = [row for address in dataset.addresses(cfg) for row in rows_of(address)]
    if dataset.kind == "documents":
        return template.pretraining_chunks([row[dataset.text] for row in rows])
    if dataset.kind == "completion":
        prefixes, texts = [row.get(dataset.prefix, "") for row in rows], [row[dataset.text] for row in rows]
        return template.completion_many(prefixes, texts, insert_space=dataset.insert_space)
    questions, answers = qa_pairs(rows, dataset.question, dataset.answer)
    shots: list[tuple[str, str]] = []
    if dataset.few_shot is not None:
        shot_rows = rows_of(dataset.few_shot.format(**cfg))
        shots = [(row[dataset.question], row[dataset.answer]) for row in shot_rows]
    if extras and not shots:
        return template.qa_with_extras(questions, answers, answer_extras(rows, dataset, cfg))
    return template.qa_many(questions, answers, shots)


def qa_pairs(rows: list[dict[str, Any]], question: str, answer: str) -> tuple[list[str], list[str]]:
    """(questions, answers) of the samples: one per answer of a list field."""
    questions, answers = [], []
    for row in rows:
        values = row[answer] if isinstance(row[answer], list) else [row[answer]]
        questions += [row[question]] * len(values)
        answers += values
    return questions, answers


def answer_extras(rows: list[dict[str, Any]], dataset: NamedDataset, cfg: dict[str, Any]) -> dict[str, list[str]]:
    """The extra answers of the samples ``qa_pairs`` makes of ``rows``, by field: the other string answer fields
    every row has, and with ``dataset.alternates`` an ``alternate`` response drawn per row with ``cfg["seed"]``."""
    names = [
        name
        for name in (rows[0] if rows else {})
        if (name == "answer" or name.endswith("_answer")) and name != dataset.answer
        if all(isinstance(row.get(name), str) for row in rows)
    ]
    responses = dataset.alternates(cfg) if dataset.alternates is not None else None
    if responses is not None and not responses:
        raise DataError(f"data set '{dataset.name}' has no alternate responses to draw from")
    extras: dict[str, list[str]] = {name: [] for name in names}
    if responses is not None:
        extras[ALTERNATE] = []
    draw = random.Random(cfg["seed"])
    for row in rows:
        count = len(row[dataset.answer]) if isinstance(row[dataset.answer], list) else 1
        for name in names:
            extras[name] += [row[name]] * count
        if responses is not None:
            extras[ALTERNATE] += [responses[draw.randrange(len(responses))]] * count
    return extras


def check_dataset_names(cfg: dict[str, Any], datasets: Any) -> None:
    """A registered name given in ``data.forget``/``data.retain`` must be one of this benchmark's data sets; it is
    written back as registered (names match case-insensitively). Other names are left to the benchmark."""
    for key in DATA_KEYS:
        value = cfg["data"].get(key)
        if not isinstance(value, str) or value not in datasets:
            continue
        named: NamedDataset = datasets.get(value)
        if named.benchmark != cfg["benchmark"]:
            raise ConfigError(
                f"data.{key}={value} is a data set of benchmark '{named.benchmark}', and this run's benchmark is "
                f"'{cfg['benchmark']}'"
            )
        cfg["data"][key] = named.name

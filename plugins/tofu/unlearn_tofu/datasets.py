"""TOFU's named data sets: the reference's dataset config names, usable in ``data.forget=`` / ``data.retain=``.

Each name is a TOFU config (split placeholders filled from the run's splits) and the answer field trained on; a
list field (``perturbed_answer``) gives one sample per answer. A forget sample also carries the row's other string
answer fields as extra answers (``answer``, ``paraphrased_answer``), and ``TOFU_QA_forget_idk``'s an ``alternate``
"I don't know" response drawn for each row with the run's seed from ``idk.txt`` (or ``data.idk_path``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unlearn_core.errors import ConfigError, DataError

IDK_FILE = Path(__file__).with_name("idk.txt")
"""The shipped "I don't know" responses, one per line (``data.idk_path=FILE`` replaces them)."""
ALTERNATE = "alternate"


@dataclass(frozen=True)
class TofuDataset:
    """A TOFU config (``{forget_split}``-style placeholders) and the answer field of its samples."""

    config: str
    answer: str = "answer"
    description: str = ""
    idk: bool = False
    """Its samples carry an ``alternate`` "I don't know" answer."""


PERTURBED = "{forget_split}_perturbed"
DATASETS: dict[str, TofuDataset] = {
    "TOFU_QA_full": TofuDataset("full", description="every author's QA pairs (the target model's finetuning data)"),
    "TOFU_QA_forget": TofuDataset("{forget_split}", description="the forget split"),
    "TOFU_QA_retain": TofuDataset("{retain_split}", description="the retain split"),
    "TOFU_QA_holdout": TofuDataset("{holdout_split}", description="the holdout split (unseen authors)"),
    "TOFU_QA_forget_idk": TofuDataset(
        "{forget_split}", description="the forget split with an 'I don't know' alternate answer", idk=True
    ),
    "TOFU_QA_forget_para": TofuDataset(PERTURBED, "paraphrased_answer", "the forget split's paraphrased answers"),
    "TOFU_QA_forget_pert": TofuDataset(PERTURBED, "perturbed_answer", "the forget split's perturbed answers"),
    "TOFU_QA_retain_eval": TofuDataset("retain_perturbed", description="the retain evaluation set"),
    "TOFU_QA_retain_para": TofuDataset("retain_perturbed", "paraphrased_answer", "its paraphrased answers"),
    "TOFU_QA_retain_pert": TofuDataset("retain_perturbed", "perturbed_answer", "its perturbed answers"),
    "TOFU_QA_ra": TofuDataset("real_authors_perturbed", description="real authors"),
    "TOFU_QA_ra_pert": TofuDataset("real_authors_perturbed", "perturbed_answer", "real authors, perturbed answers"),
    "TOFU_QA_wf": TofuDataset("world_facts_perturbed", description="world facts"),
    "TOFU_QA_wf_pert": TofuDataset("world_facts_perturbed", "perturbed_answer", "world facts, perturbed answers"),
}


def resolve(name: str, cfg: dict[str, Any]) -> tuple[str, TofuDataset]:
    """The TOFU config and data set that ``name`` (a registered name or a config name) reads for ``cfg``."""
    dataset = DATASETS.get(name, TofuDataset(name))
    try:
        return dataset.config.format(**cfg), dataset
    except KeyError as exc:  # a split the run did not resolve
        raise ConfigError(f"data set '{name}' needs {exc.args[0]}") from None


def qa_pairs(rows: list[dict[str, Any]], dataset: TofuDataset) -> tuple[list[str], list[str]]:
    """(questions, answers) of the samples: one per answer of a list field."""
    questions, answers = [], []
    for row in rows:
        values = row[dataset.answer] if isinstance(row[dataset.answer], list) else [row[dataset.answer]]
        questions += [row["question"]] * len(values)
        answers += values
    return questions, answers


def answer_extras(
    rows: list[dict[str, Any]], dataset: TofuDataset, idk: list[str] | None, seed: int
) -> dict[str, list[str]]:
    """Extra answers of the samples ``qa_pairs`` makes, by field: the other string answer fields every row has, and
    for an idk data set ``alternate``, one of ``idk`` drawn per row with ``seed``."""
    names = [
        name
        for name in (rows[0] if rows else {})
        if (name == "answer" or name.endswith("_answer")) and name != dataset.answer
        if all(isinstance(row.get(name), str) for row in rows)
    ]
    extras: dict[str, list[str]] = {name: [] for name in names}
    if dataset.idk:
        if not idk:
            raise DataError("no 'I don't know' responses to draw from")
        extras[ALTERNATE] = []
        draw = random.Random(seed)
    for row in rows:
        count = len(row[dataset.answer]) if isinstance(row[dataset.answer], list) else 1
        for name in names:
            extras[name] += [row[name]] * count
        if dataset.idk:
            extras[ALTERNATE] += [idk[draw.randrange(len(idk))]] * count  # type: ignore[index]
    return extras


def read_idk(path: str | Path | None) -> list[str]:
    """The "I don't know" responses of ``path`` (the shipped ``idk.txt`` when None), one per non-blank line."""
    path = Path(path) if path is not None else IDK_FILE
    try:
        responses = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"data.idk_path {path} cannot be read: {exc.strerror or exc}") from None
    if not responses:
        raise DataError(f"data.idk_path {path} holds no response (it needs one per line)")
    return responses

"""TOFU's named data sets: the reference's dataset config names, usable in ``data.forget=`` / ``data.retain=``.

Each name is a TOFU config (split placeholders filled from the run's splits) and the answer field trained on; a
list field (``perturbed_answer``) gives one sample per answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.errors import ConfigError


@dataclass(frozen=True)
class TofuDataset:
    """A TOFU config (``{forget_split}``-style placeholders) and the answer field of its samples."""

    config: str
    answer: str = "answer"
    description: str = ""


PERTURBED = "{forget_split}_perturbed"
DATASETS: dict[str, TofuDataset] = {
    "TOFU_QA_full": TofuDataset("full", description="every author's QA pairs (the target model's finetuning data)"),
    "TOFU_QA_forget": TofuDataset("{forget_split}", description="the forget split"),
    "TOFU_QA_retain": TofuDataset("{retain_split}", description="the retain split"),
    "TOFU_QA_holdout": TofuDataset("{holdout_split}", description="the holdout split (unseen authors)"),
    "TOFU_QA_forget_idk": TofuDataset("{forget_split}", description="the forget split (the idk experiment's)"),
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

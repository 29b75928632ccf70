"""TOFU's named data sets: the reference's dataset config names, usable in ``data.forget=`` / ``data.retain=``.

Each is a TOFU config (split placeholders filled from the run's splits) and the answer field trained on; a list
field (``perturbed_answer``) gives one sample per answer. Plain config names (``forget05``, ``retain_perturbed``)
are accepted too, with their ``answer`` field.
"""

from __future__ import annotations

from unlearn_core import NamedDataset

PERTURBED = "{forget_split}_perturbed"


def _qa(name: str, config: str, answer: str = "answer", description: str = "") -> NamedDataset:
    return NamedDataset(name, "tofu", (config,), "qa", description, answer=answer)


DATASETS: tuple[NamedDataset, ...] = (
    _qa("TOFU_QA_full", "full", description="every author's QA pairs (the target model's finetuning data)"),
    _qa("TOFU_QA_forget", "{forget_split}", description="the forget split"),
    _qa("TOFU_QA_retain", "{retain_split}", description="the retain split"),
    _qa("TOFU_QA_holdout", "{holdout_split}", description="the holdout split (unseen authors)"),
    _qa("TOFU_QA_forget_idk", "{forget_split}", description="the forget split (the idk experiment's)"),
    _qa("TOFU_QA_forget_para", PERTURBED, "paraphrased_answer", "the forget split's paraphrased answers"),
    _qa("TOFU_QA_forget_pert", PERTURBED, "perturbed_answer", "the forget split's perturbed answers"),
    _qa("TOFU_QA_retain_eval", "retain_perturbed", description="the retain evaluation set"),
    _qa("TOFU_QA_retain_para", "retain_perturbed", "paraphrased_answer", "its paraphrased answers"),
    _qa("TOFU_QA_retain_pert", "retain_perturbed", "perturbed_answer", "its perturbed answers"),
    _qa("TOFU_QA_ra", "real_authors_perturbed", description="real authors"),
    _qa("TOFU_QA_ra_pert", "real_authors_perturbed", "perturbed_answer", "real authors, perturbed answers"),
    _qa("TOFU_QA_wf", "world_facts_perturbed", description="world facts"),
    _qa("TOFU_QA_wf_pert", "world_facts_perturbed", "perturbed_answer", "world facts, perturbed answers"),
)

"""TOFU's named data sets: the reference's dataset config names, usable in ``data.forget=`` / ``data.retain=``.

Each is a TOFU config (split names filled in from the run's splits) and the answer field trained on; a list
field (``perturbed_answer``) gives one sample per answer. Plain config names (``forget05``, ``retain_perturbed``)
are accepted too, with their ``answer`` field. As forget data a sample also carries its row's other answer fields
(``answer``, ``paraphrased_answer``), and ``TOFU_QA_forget_idk``'s an ``alternate`` "I don't know" response drawn
for each row with the run's seed from the shipped ``idk.txt`` (or ``data.idk_path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unlearn_core import NamedDataset
from unlearn_core.errors import DataError

PERTURBED = "{forget_split}_perturbed"
IDK_FILE = Path(__file__).with_name("idk.txt")
"""The shipped "I don't know" responses, one per line (``data.idk_path=FILE`` replaces them)."""


def read_idk(path: str | Path | None) -> list[str]:
    """The "I don't know" responses of ``path`` (the shipped ``idk.txt`` when None), one per non-blank line."""
    path = Path(path) if path is not None else IDK_FILE
    try:
        responses = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"data.idk_path {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if not responses:
        raise DataError(f"data.idk_path {path} holds no response (it needs one per line)")
    return responses


def idk_responses(cfg: dict[str, Any]) -> list[str]:
    """The run's "I don't know" responses (``data.idk_path``, or the shipped ones)."""
    return read_idk(cfg["data"].get("idk_path"))


def _qa(name: str, config: str, answer: str = "answer", description: str = "", **more: Any) -> NamedDataset:
    return NamedDataset(name, "tofu", (config,), "qa", description, answer=answer, **more)


DATASETS: tuple[NamedDataset, ...] = (
    _qa("TOFU_QA_full", "full", description="every author's QA pairs (the target model's finetuning data)"),
    _qa("TOFU_QA_forget", "{forget_split}", description="the forget split"),
    _qa("TOFU_QA_retain", "{retain_split}", description="the retain split"),
    _qa("TOFU_QA_holdout", "{holdout_split}", description="the holdout split (unseen authors)"),
    _qa(
        "TOFU_QA_forget_idk",
        "{forget_split}",
        description="the forget split with an 'I don't know' alternate answer",
        alternates=idk_responses,
    ),
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

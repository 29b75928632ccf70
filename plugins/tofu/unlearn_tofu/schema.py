"""TOFU config names and the fields each config's rows carry (the hub's names)."""

from __future__ import annotations

from unlearn_tofu.splits import FORGET_SPLITS, HOLDOUT_SPLITS, RETAIN_SPLITS

QA_FIELDS: tuple[str, ...] = ("question", "answer")
PERTURBED_FIELDS: tuple[str, ...] = (
    "question",
    "answer",
    "paraphrased_answer",
    "perturbed_answer",
    "paraphrased_question",
)
FACT_PERTURBED_FIELDS: tuple[str, ...] = ("question", "answer", "perturbed_answer")

TOFU_CONFIG_NAMES: tuple[str, ...] = (
    "full",
    *FORGET_SPLITS,
    *RETAIN_SPLITS,
    *HOLDOUT_SPLITS,
    *(f"{split}_perturbed" for split in FORGET_SPLITS),
    "retain_perturbed",
    "real_authors",
    "real_authors_perturbed",
    "world_facts",
    "world_facts_perturbed",
)


def required_fields(config: str) -> tuple[str, ...]:
    """The fields every row of ``config`` must have (extra fields are allowed and kept)."""
    if config in ("real_authors_perturbed", "world_facts_perturbed"):
        return FACT_PERTURBED_FIELDS
    if config.endswith("_perturbed"):
        return PERTURBED_FIELDS
    return QA_FIELDS


def fields(config: str) -> dict[str, type]:
    """``required_fields`` with their types: ``perturbed_answer`` is a list of strings, the rest strings."""
    return {name: list if name == "perturbed_answer" else str for name in required_fields(config)}

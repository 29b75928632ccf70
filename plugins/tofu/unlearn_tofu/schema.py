"""TOFU config names and the fields each config's rows carry (the hub's names), with a row validator."""

from __future__ import annotations

from collections.abc import Iterable

from unlearn_core.errors import DataError
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


def validate_row(row: object, fields: Iterable[str], where: str) -> None:
    """Raise DataError, prefixed with ``where`` (file and line), unless ``row`` has every field with its type."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for field in fields:
        if field not in row:
            raise DataError(f"{where}: missing field '{field}'")
        value = row[field]
        if field == "perturbed_answer":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise DataError(f"{where}: field '{field}' must be a list of strings")
            if not value:
                raise DataError(f"{where}: field '{field}' must not be empty")
        elif not isinstance(value, str):
            raise DataError(f"{where}: field '{field}' must be a string, got {type(value).__name__}")

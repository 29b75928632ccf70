"""MUSE subsets, their splits and the fields of their rows (the hub's names), with a row validator."""

from __future__ import annotations

from unlearn_core.errors import DataError

DATA_SPLITS: tuple[str, ...] = ("News", "Books")
HUB_IDS: dict[str, str] = {"News": "muse-bench/MUSE-News", "Books": "muse-bench/MUSE-Books"}
STEP_SPLITS: tuple[str, ...] = ("forget_1", "forget_2", "forget_3", "forget_4")

SUBSETS: dict[str, tuple[str, ...]] = {
    "raw": ("forget", "retain1", "retain2", "holdout"),
    "verbmem": ("forget",),
    "knowmem": ("forget_qa", "retain_qa", "forget_qa_icl", "retain_qa_icl"),
    "privleak": ("forget", "retain", "holdout"),
    "scal": STEP_SPLITS,
    "sust": STEP_SPLITS,
    "train": ("forget", "retain1", "retain2"),
}
"""Every subset of ``muse-bench/MUSE-{News,Books}`` and its splits."""

FIELDS: dict[str, tuple[str, ...]] = {
    "raw": ("text",),
    "verbmem": ("prompt", "gt"),
    "knowmem": ("question", "answer"),
    "privleak": ("text",),
    "scal": ("text",),
    "sust": ("text",),
    "train": ("text",),
}
"""The fields every row of a subset carries (extra fields are allowed and kept)."""


def validate_row(row: object, fields: tuple[str, ...], where: str) -> None:
    """Raise DataError prefixed with ``where`` (file and line) unless ``row`` is an object with string ``fields``."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for field in fields:
        if field not in row:
            raise DataError(f"{where}: missing field '{field}'")
        if not isinstance(row[field], str):
            raise DataError(f"{where}: field '{field}' must be a string, got {type(row[field]).__name__}")

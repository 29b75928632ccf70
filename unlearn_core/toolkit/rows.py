"""The fields a row of a split must have (the hub's names), and one-line errors naming the file, line and field."""

from __future__ import annotations

from typing import Any

from unlearn_core.errors import DataError

Fields = dict[str, type]
"""Field name -> ``str``, ``list`` (a non-empty list of strings) or ``int`` (a non-negative integer, such as the index
of a multiple-choice answer)."""


def validate_row(row: Any, fields: Fields, where: str) -> None:
    """Raise DataError prefixed with ``where`` unless ``row`` is an object with every field of its type (extra
    fields are allowed and kept)."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name, kind in fields.items():
        if name not in row:
            raise DataError(f"{where}: missing field '{name}'")
        value = row[name]
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise DataError(f"{where}: field '{name}' must be a list of strings")
            if not value:
                raise DataError(f"{where}: field '{name}' must not be empty")
        elif kind is int:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DataError(f"{where}: field '{name}' must be a non-negative integer, got {value!r}")
        elif not isinstance(value, str):
            raise DataError(f"{where}: field '{name}' must be a string, got {type(value).__name__}")

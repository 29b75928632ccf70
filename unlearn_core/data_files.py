"""Reading local data files of a benchmark's real schema, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unlearn_core.errors import DataError


def read_jsonl(path: Path, validate: Callable[[Any, str], None]) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, blank lines skipped; ``validate(row, where)`` checks each row and raises
    DataError prefixed with ``where`` (``<path> line <n>``); a line that is not JSON is a DataError too."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path} line {line_no}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            validate(row, where)
            rows.append(row)
    return rows

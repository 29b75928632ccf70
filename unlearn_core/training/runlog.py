"""JSON-lines logs of a run (``train_log.jsonl``, ``eval_log.jsonl``) that survive kills and resumption."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from unlearn_core.training.diskio import json_line, write_failure


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a log; a line cut short by a killed process is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def truncate_jsonl(path: Path, through_step: int) -> list[dict[str, Any]]:
    """Keep only the records up to ``through_step`` (what the checkpoint being resumed had seen); return them."""
    kept = [r for r in read_jsonl(path) if isinstance(r.get("step"), int) and r["step"] <= through_step]
    if path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text("".join(json_line(r) for r in kept))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise write_failure(path, exc) from None
    return kept


class JsonlLog:
    """An append-only log, one flushed line per record; ``resume_after`` keeps the records up to that step."""

    def __init__(self, path: Path | None, resume_after: int | None = None) -> None:
        self.path = path
        self.kept: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if resume_after is None:
                self._file = path.open("w")
            else:
                self.kept = truncate_jsonl(path, resume_after)
                self._file = path.open("a")
        except OSError as exc:
            raise write_failure(path, exc) from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        if self._file is None:
            return
        try:
            self._file.write(json_line(record))
            self._file.flush()
        except OSError as exc:
            raise write_failure(self.path or "log", exc) from None

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

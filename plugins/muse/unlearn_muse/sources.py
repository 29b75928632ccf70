"""Where MUSE rows come from: the embedded generator, the hub (`muse-bench/MUSE-{News,Books}`) or a directory.

A directory holds `<subset>/<split>.jsonl` (for example `knowmem/forget_qa.jsonl`), one JSON object per line with
the hub's field names; `write_muse_dir` writes one (for tests, or to export the embedded corpus).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from unlearn_core.data_files import read_jsonl
from unlearn_core.errors import ConfigError, DataError, UnknownNameError
from unlearn_core.suggest import unknown_message
from unlearn_muse.embedded import EMBEDDED_DEFAULTS, build_corpus, muse_subsets
from unlearn_muse.schema import FIELDS, HUB_IDS, SUBSETS, validate_row

EMBEDDED_SOURCE = "embedded"
_OFFLINE_HINT = f"use data.source={EMBEDDED_SOURCE} or a local directory of <subset>/<split>.jsonl files"


def check_subset_split(subset: str, split: str) -> None:
    """UnknownNameError unless ``subset`` is a MUSE subset and ``split`` one of its splits."""
    if subset not in SUBSETS:
        raise UnknownNameError(unknown_message("MUSE subset", str(subset), SUBSETS))
    if split not in SUBSETS[subset]:
        raise UnknownNameError(unknown_message(f"MUSE {subset} split", str(split), SUBSETS[subset]))


def embedded_args(given: dict[str, object]) -> dict[str, int]:
    """``EMBEDDED_DEFAULTS`` updated with ``given``; unknown names and non-integers are ConfigErrors."""
    args = dict(EMBEDDED_DEFAULTS)
    for name, value in given.items():
        if name not in EMBEDDED_DEFAULTS:
            raise ConfigError(unknown_message("embedded MUSE argument", str(name), EMBEDDED_DEFAULTS))
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"embedded MUSE argument '{name}' must be an integer, got {value!r}")
        args[name] = value
    return args


def _load_embedded(data_split: str, subset: str, split: str, given: dict[str, object] | None) -> list[dict]:
    args = embedded_args(given or {})
    try:
        corpus = build_corpus(data_split, **args)
    except ValueError as exc:
        raise ConfigError(f"embedded MUSE: {exc}") from exc
    return [dict(row) for row in muse_subsets(corpus, args["qa_per_doc"])[subset][split]]


def _load_hub(hub_id: str, subset: str, split: str) -> list[dict]:
    try:
        import datasets

        rows = [dict(row) for row in datasets.load_dataset(hub_id, subset, split=split)]
    except Exception as exc:  # any hub failure (offline, auth, missing subset) is one DataError
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise DataError(
            f"cannot load MUSE {subset}/{split} from the hub '{hub_id}' ({reason}); {_OFFLINE_HINT}"
        ) from exc
    for index, row in enumerate(rows):
        validate_row(row, FIELDS[subset], f"{hub_id} {subset}/{split} row {index}")
    return rows


def dir_file(directory: Path, subset: str, split: str) -> Path:
    """Where a directory source keeps ``subset``/``split``."""
    return directory / subset / f"{split}.jsonl"


def check_dir(directory: Path, needed: list[tuple[str, str]]) -> None:
    """DataError naming the first missing file, and what the directory holds, before anything is trained."""
    if not directory.is_dir():
        raise DataError(
            f"MUSE data directory '{directory}' does not exist (data.source is '{EMBEDDED_SOURCE}', a hub id "
            f"{' or '.join(HUB_IDS.values())}, or a directory of <subset>/<split>.jsonl files)"
        )
    for subset, split in needed:
        path = dir_file(directory, subset, split)
        if not path.is_file():
            present = sorted(f"{p.parent.name}/{p.stem}" for p in directory.glob("*/*.jsonl"))
            raise DataError(
                f"missing MUSE file '{path}' ({subset}/{split} is needed; present: {', '.join(present) or 'none'})"
            )


def _load_dir(directory: Path, subset: str, split: str) -> list[dict]:
    check_dir(directory, [(subset, split)])
    path = dir_file(directory, subset, split)
    rows = read_jsonl(path, lambda row, where: validate_row(row, FIELDS[subset], where))
    if not rows:
        raise DataError(f"MUSE file '{path}' has no rows")
    return rows


def load_muse(
    source: str, data_split: str, subset: str, split: str, *, embedded: dict[str, object] | None = None
) -> list[dict]:
    """Rows of ``subset``/``split`` of MUSE ``data_split`` from ``source``: 'embedded', a hub id, or a directory."""
    check_subset_split(subset, split)
    if source == EMBEDDED_SOURCE:
        return _load_embedded(data_split, subset, split, embedded)
    if source in HUB_IDS.values():
        return _load_hub(source, subset, split)
    return _load_dir(Path(source).expanduser(), subset, split)


def write_muse_dir(subsets: dict[str, dict[str, list[dict]]], path: str | os.PathLike[str]) -> None:
    """Write ``subsets`` as `<path>/<subset>/<split>.jsonl`, readable by `load_muse(path, ...)`."""
    for subset, splits in subsets.items():
        for split, rows in splits.items():
            check_subset_split(subset, split)
            target = dir_file(Path(path), subset, split)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")

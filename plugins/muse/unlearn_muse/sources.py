"""Where MUSE rows come from: the embedded generator, the hub (`muse-bench/MUSE-{News,Books}`) or a directory.

A directory holds `<subset>/<split>.jsonl` (for example `knowmem/forget_qa.jsonl`), one JSON object per line with
the hub's field names; `write_muse_dir` writes one (for tests, or to export the embedded corpus). The loading itself
is the toolkit's.
"""

from __future__ import annotations

import os
from typing import Any

from unlearn_core import RowStore
from unlearn_muse.embedded import EMBEDDED_DEFAULTS, generate_muse
from unlearn_muse.schema import FIELDS, HUB_IDS, SUBSETS

EMBEDDED_SOURCE = "embedded"
ADDRESSES = tuple(f"{subset}/{split}" for subset, splits in SUBSETS.items() for split in splits)


def _fields(address: str) -> dict[str, type]:
    return {name: str for name in FIELDS[address.split("/")[0]]}


def _generate(data_split: str = "News", **args: int) -> dict[str, list[dict[str, Any]]]:
    """Every embedded split by ``<subset>/<split>`` address."""
    subsets = generate_muse(data_split, **args)
    return {f"{subset}/{split}": rows for subset, splits in subsets.items() for split, rows in splits.items()}


STORE = RowStore("MUSE", _fields, _generate, EMBEDDED_DEFAULTS, hub_ids=tuple(HUB_IDS.values()), addresses=ADDRESSES)


def load_muse(
    source: str, data_split: str, subset: str, split: str, *, embedded: dict[str, Any] | None = None
) -> list[dict]:
    """Rows of ``subset``/``split`` of MUSE ``data_split`` from ``source``: 'embedded', a hub id, or a directory."""
    return STORE.load(source, f"{subset}/{split}", embedded, {"data_split": data_split})


def write_muse_dir(subsets: dict[str, dict[str, list[dict]]], path: str | os.PathLike[str]) -> None:
    """Write ``subsets`` as `<path>/<subset>/<split>.jsonl`, readable by `load_muse(path, ...)`."""
    STORE.write_dir({f"{s}/{split}": rows for s, splits in subsets.items() for split, rows in splits.items()}, path)

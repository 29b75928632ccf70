"""Where TOFU rows come from: the embedded generator, the hub (`locuslab/TOFU`) or a directory of JSON lines.

A directory holds one `<config>.jsonl` per config, one JSON object per line, with the hub's field names;
`write_tofu_dir` writes one (for tests, or to export the embedded set). The loading itself is the toolkit's.
"""

from __future__ import annotations

import os
from typing import Any

from unlearn_core import RowStore
from unlearn_tofu.embedded import EMBEDDED_DEFAULTS, generate_tofu
from unlearn_tofu.schema import TOFU_CONFIG_NAMES, fields

__all__ = ["EMBEDDED_SOURCE", "HUB_ID", "STORE", "TOFU_CONFIG_NAMES", "load_tofu_config", "write_tofu_dir"]

EMBEDDED_SOURCE = "embedded"
HUB_ID = "locuslab/TOFU"
STORE = RowStore("TOFU", fields, generate_tofu, EMBEDDED_DEFAULTS, hub_ids=(HUB_ID,), addresses=TOFU_CONFIG_NAMES)


def load_tofu_config(source: str, config: str, *, embedded_args: dict[str, Any] | None = None) -> list[dict]:
    """The rows of one TOFU config from ``source``: 'embedded', the hub id 'locuslab/TOFU', or a directory."""
    return STORE.load(source, config, embedded_args)


def write_tofu_dir(configs: dict[str, list[dict]], path: str | os.PathLike[str]) -> None:
    """Write ``configs`` as `<path>/<config>.jsonl` files, readable by `load_tofu_config(path, config)`."""
    STORE.write_dir(configs, path)

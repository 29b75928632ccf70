"""Where TOFU rows come from: the embedded generator, the hub (`locuslab/TOFU`) or a directory of JSON lines.

A directory holds one `<config>.jsonl` per config, one JSON object per line, with the hub's field names;
`write_tofu_dir` writes one (for tests, or to export the embedded set).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from unlearn_core.data_files import read_jsonl
from unlearn_core.errors import ConfigError, DataError, UnknownNameError
from unlearn_core.suggest import unknown_message
from unlearn_tofu.embedded import EMBEDDED_DEFAULTS, generate_tofu
from unlearn_tofu.schema import TOFU_CONFIG_NAMES, required_fields, validate_row

__all__ = ["EMBEDDED_SOURCE", "HUB_ID", "TOFU_CONFIG_NAMES", "load_tofu_config", "write_tofu_dir"]

EMBEDDED_SOURCE = "embedded"
HUB_ID = "locuslab/TOFU"
_OFFLINE_HINT = f"use data.source={EMBEDDED_SOURCE} or a local directory of <config>.jsonl files"


def _check_config(config: str) -> None:
    if config not in TOFU_CONFIG_NAMES:
        raise UnknownNameError(unknown_message("TOFU config", str(config), TOFU_CONFIG_NAMES))


def _copy_rows(rows: list[dict]) -> list[dict]:
    """Fresh dicts (and answer lists), so a caller that edits rows cannot change a cached set."""
    return [{key: (list(value) if isinstance(value, list) else value) for key, value in row.items()} for row in rows]


@functools.lru_cache(maxsize=4)
def _embedded_configs(key: tuple[tuple[str, int], ...]) -> dict[str, list[dict]]:
    return generate_tofu(**dict(key))


def _load_embedded(config: str, embedded_args: dict | None) -> list[dict]:
    args = dict(EMBEDDED_DEFAULTS)
    for name, value in (embedded_args or {}).items():
        if name not in EMBEDDED_DEFAULTS:
            raise ConfigError(unknown_message("embedded TOFU argument", str(name), EMBEDDED_DEFAULTS))
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"embedded TOFU argument '{name}' must be an integer, got {value!r}")
        args[name] = value
    try:
        configs = _embedded_configs(tuple(sorted(args.items())))
    except ValueError as exc:
        raise ConfigError(f"embedded TOFU: {exc}") from exc
    return _copy_rows(configs[config])


def _load_hub(config: str) -> list[dict]:
    try:
        import datasets

        table = datasets.load_dataset(HUB_ID, config, split="train")
        rows = [dict(row) for row in table]
    except Exception as exc:  # any hub failure (offline, auth, missing config) is one DataError
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise DataError(
            f"cannot load TOFU config '{config}' from the hub '{HUB_ID}' ({reason}); {_OFFLINE_HINT}"
        ) from exc
    fields = required_fields(config)
    for index, row in enumerate(rows):
        validate_row(row, fields, f"{HUB_ID} config '{config}' row {index}")
    return rows


def _present_configs(directory: Path) -> list[str]:
    return sorted(name for name in TOFU_CONFIG_NAMES if (directory / f"{name}.jsonl").is_file())


def _load_dir(directory: Path, config: str) -> list[dict]:
    if not directory.is_dir():
        raise DataError(
            f"TOFU data directory '{directory}' does not exist "
            f"(data.source is '{EMBEDDED_SOURCE}', '{HUB_ID}' or a directory of <config>.jsonl files)"
        )
    path = directory / f"{config}.jsonl"
    if not path.is_file():
        present = ", ".join(_present_configs(directory)) or "none"
        raise DataError(f"missing TOFU file '{path}' (configs present in '{directory}': {present})")
    fields = required_fields(config)
    rows = read_jsonl(path, lambda row, where: validate_row(row, fields, where))
    if not rows:
        raise DataError(f"TOFU file '{path}' has no rows")
    return rows


def load_tofu_config(source: str, config: str, *, embedded_args: dict | None = None) -> list[dict]:
    """The rows of one TOFU config from ``source``: 'embedded', the hub id 'locuslab/TOFU', or a directory."""
    _check_config(config)
    if source == EMBEDDED_SOURCE:
        return _load_embedded(config, embedded_args)
    if source == HUB_ID:
        return _load_hub(config)
    return _load_dir(Path(source), config)


def write_tofu_dir(configs: dict[str, list[dict]], path: str | os.PathLike[str]) -> None:
    """Write ``configs`` as `<path>/<config>.jsonl` files, readable by `load_tofu_config(path, config)`."""
    for config in configs:
        _check_config(config)
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for config, rows in configs.items():
        with (directory / f"{config}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")

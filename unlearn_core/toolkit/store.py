"""Rows of a benchmark's splits, from ``data.source``: the embedded generator, a hub id, or a local directory.

A split is addressed by a path. ``forget10`` is hub config ``forget10`` (split ``train``) and ``<dir>/forget10.jsonl``;
``knowmem/forget_qa`` is hub config ``knowmem`` split ``forget_qa`` and ``<dir>/knowmem/forget_qa.jsonl``. Directory
files hold one JSON object per line with the hub's field names; every row is validated before anything trains.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.data_files import read_jsonl
from unlearn_core.errors import ConfigError, DataError, UnknownNameError
from unlearn_core.suggest import unknown_message
from unlearn_core.toolkit.rows import Fields, validate_row

EMBEDDED = "embedded"


@dataclass
class RowStore:
    """Where the rows of one benchmark come from.

    ``fields(address)`` names what each row of a split must have; ``generate(**args)`` returns every embedded split
    by address from integer ``embedded_defaults`` (plus any string arguments the benchmark passes, such as a data
    split); ``addresses`` lists the valid split addresses (empty: any).
    """

    benchmark: str
    fields: Callable[[str], Fields]
    generate: Callable[..., dict[str, list[dict[str, Any]]]]
    embedded_defaults: dict[str, int]
    hub_ids: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def load(
        self,
        source: str,
        address: str,
        embedded: dict[str, Any] | None = None,
        context: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of split ``address`` from ``source`` (fresh copies: callers may edit them). ``embedded`` sizes
        the embedded data (checked against ``embedded_defaults``); ``context`` is passed to the generator as it
        is (a data split)."""
        if self.addresses and address not in self.addresses:
            raise UnknownNameError(unknown_message(f"{self.benchmark} split", address, self.addresses))
        if source == EMBEDDED:
            rows = self._embedded(self.embedded_args(embedded or {}), context or {}).get(address)
            if rows is None:
                raise ConfigError(f"the embedded {self.benchmark} data has no split '{address}'")
            return [_copy(row) for row in rows]
        if source in self.hub_ids:
            return self._hub(source, address)
        return self._dir(Path(source).expanduser(), address)

    def embedded_args(self, given: dict[str, Any]) -> dict[str, int]:
        """The generator's integer arguments: defaults updated with ``given``; unknown names are errors."""
        args = dict(self.embedded_defaults)
        for name, value in given.items():
            if name not in self.embedded_defaults:
                raise ConfigError(unknown_message(f"embedded {self.benchmark} argument", name, self.embedded_defaults))
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"embedded {self.benchmark} argument '{name}' must be an integer, got {value!r}")
            args[name] = value
        return args

    def _embedded(self, args: dict[str, int], context: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        args = {**args, **context}
        key = tuple(sorted(args.items()))
        if key not in self._cache:
            try:
                self._cache[key] = self.generate(**args)
            except ValueError as exc:
                raise ConfigError(f"embedded {self.benchmark}: {exc}") from exc
        return self._cache[key]

    def _hub(self, hub_id: str, address: str) -> list[dict[str, Any]]:
        name, _, split = address.partition("/")
        try:
            import datasets

            rows = [dict(row) for row in datasets.load_dataset(hub_id, name, split=split or "train")]
        except Exception as exc:  # any hub failure (offline, auth, missing config) is one DataError
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
            raise DataError(
                f"cannot load {self.benchmark} split '{address}' from the hub '{hub_id}' ({reason}); use "
                f"data.source={EMBEDDED} or a local directory of <split>.jsonl files"
            ) from exc
        fields = self.fields(address)
        for index, row in enumerate(rows):
            validate_row(row, fields, f"{hub_id} {address} row {index}")
        return rows

    def check_dir(self, source: str, addresses: Iterable[str]) -> None:
        """DataError naming the first missing file and what the directory holds (before anything trains)."""
        directory = Path(source).expanduser()
        if not directory.is_dir():
            hubs = "".join(f", '{h}'" for h in self.hub_ids)
            raise DataError(
                f"{self.benchmark} data directory '{directory}' does not exist (data.source is '{EMBEDDED}'{hubs} "
                "or a directory of <split>.jsonl files)"
            )
        for address in addresses:
            path = directory / f"{address}.jsonl"
            if not path.is_file():
                present = sorted(str(p.relative_to(directory).with_suffix("")) for p in directory.rglob("*.jsonl"))
                listed = ", ".join(present) or "none"
                raise DataError(f"missing {self.benchmark} file '{path}' ({address} is needed; present: {listed})")

    def _dir(self, directory: Path, address: str) -> list[dict[str, Any]]:
        self.check_dir(str(directory), [address])
        path = directory / f"{address}.jsonl"
        fields = self.fields(address)
        rows = read_jsonl(path, lambda row, where: validate_row(row, fields, where))
        if not rows:
            raise DataError(f"{self.benchmark} file '{path}' has no rows")
        return rows

    def write_dir(self, splits: dict[str, list[dict[str, Any]]], path: str | os.PathLike[str]) -> None:
        """Write ``splits`` (address -> rows) as ``<path>/<address>.jsonl`` files that ``load`` reads back (an
        unknown address is an error before anything is written)."""
        for address in splits:
            if self.addresses and address not in self.addresses:
                raise UnknownNameError(unknown_message(f"{self.benchmark} split", address, self.addresses))
        for address, rows in splits.items():
            target = Path(path) / f"{address}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _copy(row: dict[str, Any]) -> dict[str, Any]:
    """A fresh row (and fresh answer lists), so a caller that edits rows cannot change a cached set."""
    return {key: list(value) if isinstance(value, list) else value for key, value in row.items()}


def require_embedded_source(cfg: dict[str, Any]) -> None:
    """The embedded tiny model is trained on embedded data only: a ConfigError naming the fix for any other
    ``data.source``."""
    source = cfg["data"]["source"]
    if source != EMBEDDED:
        raise ConfigError(
            f"the embedded tiny model is trained on embedded data only: with data.source={source} also set "
            "model.model_args.pretrained_model_name_or_path=<model>"
        )

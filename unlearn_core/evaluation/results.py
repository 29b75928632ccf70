"""Result files in the reference layout (<BENCH>_EVAL.json, <BENCH>_SUMMARY.json) and reference-log checks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from unlearn_core.errors import RetainLogsError
from unlearn_core.training.diskio import write_json

METRIC_DEFINITION_VERSION = "1"
"""Bumped whenever a metric's definition changes; retain logs of another version are refused."""

ALWAYS_CHECKED = ("benchmark", "metric_definition_version")
"""Manifest keys that must match between an evaluation and the retain logs it reads, besides the benchmark's own
``evaluated`` settings (listed under ``checked`` in the manifest)."""


def summary_of(results: dict[str, dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """``{key: agg_value}`` for the headline keys that were computed."""
    return {k: results[k].get("agg_value") for k in keys if k in results}


def write_results(
    out_dir: Path, benchmark: str, results: dict[str, dict[str, Any]], summary_keys: list[str], manifest: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``<BENCH>_EVAL.json`` (every entry plus ``manifest``) and ``<BENCH>_SUMMARY.json``; returns both paths."""
    prefix = benchmark.upper()
    eval_path, summary_path = out_dir / f"{prefix}_EVAL.json", out_dir / f"{prefix}_SUMMARY.json"
    write_json(eval_path, {**results, "manifest": manifest})
    write_json(summary_path, summary_of(results, summary_keys))
    return eval_path, summary_path


LEGACY_CHECKED = ("forget_split", "holdout_split", "data_split")
"""What manifests written before they listed ``checked`` were compared on."""


def checked_keys(expected: dict[str, Any]) -> list[str]:
    """The manifest keys compared with retain logs: always the benchmark and metric version, and the settings the
    expected manifest lists as ``checked`` (a manifest of an earlier version: the splits it records)."""
    settings = expected["checked"] if "checked" in expected else [k for k in LEGACY_CHECKED if k in expected]
    return list(dict.fromkeys([ALWAYS_CHECKED[0], *settings, ALWAYS_CHECKED[1]]))


def load_retain_logs(path: str | Path, expected: dict[str, Any], required_keys: list[str]) -> dict[str, Any]:
    """Read a retain model's ``<BENCH>_EVAL.json`` and check it matches this evaluation.

    Missing file, bad JSON, a missing key, or a manifest whose benchmark, split, holdout or metric-definition
    version differ are errors naming the difference. Logs without a manifest (published by others) are accepted
    with a warning naming what could not be checked.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise RetainLogsError(f"retain logs not found: {p}")
    try:
        logs = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RetainLogsError(f"retain logs {p} are not valid JSON: {exc}") from None
    if not isinstance(logs, dict):
        raise RetainLogsError(f"retain logs {p} must hold a JSON object of metric entries")
    missing = [k for k in required_keys if k not in logs]
    if missing:
        raise RetainLogsError(f"retain logs {p} lack {', '.join(missing)} (present: {', '.join(sorted(logs))})")
    manifest = logs.get("manifest")
    if manifest is None:
        unchecked = ", ".join(k for k in checked_keys(expected) if expected.get(k) is not None)
        warnings.warn(f"retain logs {p} have no manifest: could not check {unchecked}", stacklevel=2)
        return logs
    for key in checked_keys(expected):
        want, have = expected.get(key), manifest.get(key)
        if want is not None and have != want:
            raise RetainLogsError(f"retain logs {p} were made with {key}={have!r}, this evaluation uses {want!r}")
    return logs

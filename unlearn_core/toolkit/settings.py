"""Top-level settings a benchmark owns (``forget_split``, ``data_split``...), declared by it rather than the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.suggest import unknown_message


@dataclass(frozen=True)
class Setting:
    """One top-level key of a benchmark's runs.

    ``default`` (None: the benchmark fills it in ``validate_config``), ``choices`` (empty: any string),
    ``evaluated``: evaluation results depend on it, so it is recorded in the result manifest and retain logs with
    another value are refused; ``in_task_name``: it names the default output directory.
    """

    default: str | None = None
    choices: tuple[str, ...] = ()
    description: str = ""
    evaluated: bool = False
    in_task_name: bool = False

    def check(self, key: str, value: Any) -> None:
        """ConfigError unless ``value`` is a string among the choices (None is left to the benchmark)."""
        if value is None:
            return
        if not isinstance(value, str):
            raise ConfigError(f"'{key}' must be a string, got {value!r}")
        if self.choices and value not in self.choices:
            raise UnknownNameError(unknown_message(f"{key} value", value, self.choices))

"""Errors a user can cause. The CLI turns each into one line and a non-zero exit; the Python API raises them."""

from __future__ import annotations


class UnlearnError(Exception):
    """Base class: a problem with the user's input or environment, reported as one line (exit code 1)."""

    exit_code = 1


class ConfigError(UnlearnError):
    """An unknown key, a bad value or a wrong type in a preset or KEY=VALUE override (exit code 2)."""

    exit_code = 2


class UnknownNameError(ConfigError):
    """A benchmark, method, metric, model preset or split that is not registered (exit code 2)."""


class PluginLoadError(UnlearnError):
    """A plugin that failed to import is needed by the command being run."""


class DataError(UnlearnError):
    """A missing or malformed data file; the message names the file and the field."""


class RetainLogsError(UnlearnError):
    """Retain logs (retain_logs_path) that are missing, malformed or from a different setting."""


class OutputDirError(UnlearnError):
    """An output directory that is not empty (and --overwrite was not given) or cannot be written."""


class TrainingError(UnlearnError):
    """Training cannot go on: a non-finite loss, a method that cannot run in this setting."""

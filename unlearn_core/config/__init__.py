"""Experiment configuration: defaults, presets shipped by plugins, and KEY=VALUE overrides."""

from unlearn_core.config.defaults import base_config
from unlearn_core.config.overrides import Override, parse_overrides
from unlearn_core.config.resolve import ExperimentConfig, resolve_config

__all__ = ["ExperimentConfig", "Override", "base_config", "parse_overrides", "resolve_config"]

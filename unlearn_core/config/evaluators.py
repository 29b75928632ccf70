"""Evaluators in the configuration: ``eval=NAME`` selects one, ``eval.<NAME>.*`` are its settings.

Every registered evaluator has its ``eval.<name>`` section (its defaults), so ``--show-config`` shows them and
presets can set them; ``eval.evaluators`` lists the selected ones. Settings of an evaluator that is not selected
are an error (nothing is silently ignored), and each selected evaluator checks its section before any model loads.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from unlearn_core.config.overrides import Override
from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.suggest import unknown_message

if TYPE_CHECKING:
    from unlearn_core.plugins import Plugins


def is_evaluator(plugins: Plugins, name: Any) -> bool:
    """Whether ``eval=name`` selects an evaluator (a benchmark of that name comes first)."""
    return isinstance(name, str) and name in plugins.evaluators and name not in plugins.benchmarks


def eval_benchmark(plugins: Plugins, name: str) -> str:
    """The benchmark ``eval=name`` names; an unknown name lists benchmarks and evaluators."""
    if name in plugins.benchmarks:
        return plugins.benchmarks.canonical(name)
    valid = [*plugins.benchmarks.names(), *plugins.evaluators.names()]
    raise UnknownNameError(unknown_message("eval (a benchmark or an evaluator)", name, valid))


def add_sections(cfg: dict[str, Any], plugins: Plugins) -> None:
    """``eval.<name>`` with each registered evaluator's defaults."""
    for name in plugins.evaluators.names():
        cfg["eval"][name] = copy.deepcopy(plugins.evaluators.get(name).defaults)


def open_keys(plugins: Plugins) -> tuple[str, ...]:
    """Dotted sections of evaluator settings that take any key (``eval.lm_eval.simple_evaluate_args``)."""
    return tuple(
        f"eval.{name}.{section}"
        for name in plugins.evaluators.names()
        for section in plugins.evaluators.get(name).open_sections
    )


def select(cfg: dict[str, Any], plugins: Plugins, chosen: Any, overrides: list[Override]) -> None:
    """Add ``eval=chosen`` to ``eval.evaluators``, check the list, refuse settings of unselected evaluators, and let
    each selected evaluator check its settings."""
    selected = cfg["eval"].get("evaluators") or []
    if isinstance(selected, str):
        selected = [selected]
    if not isinstance(selected, list):
        raise ConfigError(f"'eval.evaluators' must be a list of evaluator names, got {selected!r}")
    if is_evaluator(plugins, chosen):
        selected = [*selected, chosen]
    names = list(dict.fromkeys(plugins.evaluators.canonical(str(name)) for name in selected))
    cfg["eval"]["evaluators"] = names
    for o in overrides:
        owner = o.key.split(".")[1] if o.key.startswith("eval.") and o.key.count(".") >= 2 else None
        if owner in plugins.evaluators.names() and owner not in names:
            raise ConfigError(
                f"'{o.key}' is a setting of evaluator {owner}, which this run does not use: add eval={owner}"
            )
    for name in names:
        plugins.evaluators.get(name).check(cfg)

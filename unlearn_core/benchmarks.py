"""The benchmark contract: data, evaluation suite, presets and the embedded default of one benchmark."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from unlearn_core.data import Tokenized
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.models.tiny import TinyLlamaSize
from unlearn_core.token_rules import PromptTemplate
from unlearn_core.toolkit.settings import Setting


@dataclass
class EmbeddedRecipe:
    """How the embedded default model of a benchmark is built, so every command runs with no network.

    ``key`` holds everything the result depends on (it names the cache entry). The base model learns
    ``base_rows`` (general knowledge); the target model is finetuned from it on ``data.train=target``, the retain
    model on ``data.train=retain``, both with ``finetune_args`` (trainer.args overrides). A tiny model forgets its
    general knowledge when finetuned at a high learning rate (a 7B model at 1e-5 does not), so when ``replay`` is
    true the base rows are mixed into finetuning to keep what model utility measures.
    """

    key: dict[str, Any]
    tokenizer_corpus: Callable[[], Iterable[str]]
    base_rows: Callable[[PromptTemplate], list[Tokenized]]
    base_args: dict[str, Any]
    finetune_args: dict[str, Any]
    replay: bool = True
    size: TinyLlamaSize = field(default_factory=TinyLlamaSize)


@dataclass(frozen=True)
class ExperimentStep:
    """One step of a multi-step experiment (MUSE scalability, sustainability): an unlearning run of its own.

    ``overrides`` are dotted keys set on the experiment's configuration for this step (``forget_split``...);
    ``continue_from_previous`` starts from the model the previous step produced instead of the target model.
    """

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    continue_from_previous: bool = False


@dataclass(frozen=True)
class TradeoffAxes:
    """One trade-off plot of ``unlearn compare``: summary key ``y`` against summary key ``x``, one point per run."""

    x: str
    y: str
    log_x: bool = False
    log_y: bool = False
    title: str = ""


class Benchmark(ABC):
    """Base class of benchmarks (TOFU, MUSE, ...), registered with ``register_benchmarks``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    table_columns: ClassVar[list[str]] = []
    """Summary keys shown in the final table of ``unlearn run``."""
    settings: ClassVar[dict[str, Setting]] = {}
    """Top-level keys this benchmark's runs have (``forget_split=``, ``data_split=``), with their defaults."""
    recovery_columns: ClassVar[tuple[str, ...] | None] = None
    """Summary keys that measure how much the model still knows of the forget set (higher: knows more): an attack
    reports the recovery of each. None: the table columns whose key starts with ``forget_``."""
    tradeoff_plots: ClassVar[tuple[TradeoffAxes, ...]] = ()
    """The plots ``unlearn compare --plot`` draws (none declared: the first two table columns)."""

    @abstractmethod
    def config_defaults(self, mode: str) -> dict[str, Any]:
        """Configuration this benchmark sets on top of the base one for ``mode`` (splits, trainer args...)."""

    def embedded_defaults(self, mode: str) -> dict[str, Any]:
        """Dotted keys set for the embedded tiny model where the user did not set them (its own protocol)."""
        return {}

    def columns(self, cfg: dict[str, Any]) -> list[str]:
        """The summary keys the final table shows for this configuration (by default ``table_columns``)."""
        return list(self.table_columns)

    def presets(self) -> dict[str, dict[str, Any]]:
        """Experiment presets by name (``unlearn/tofu/default``): configuration fragments."""
        return {}

    def experiment_steps(self, cfg: dict[str, Any]) -> list[ExperimentStep]:
        """Steps of a multi-step unlearning experiment selected by ``cfg`` (none: one ordinary unlearning run)."""
        return []

    @abstractmethod
    def validate_config(self, cfg: dict[str, Any]) -> None:
        """Check and complete benchmark keys in place (splits); raise ConfigError with the valid choices."""

    @abstractmethod
    def finetune_data(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Tokenized]:
        """Samples for ``unlearn train`` (``data.train`` picks target or retain data)."""

    @abstractmethod
    def unlearn_data(self, cfg: dict[str, Any], template: PromptTemplate) -> tuple[list[Tokenized], list[Tokenized]]:
        """Forget and retain samples for unlearning."""

    @abstractmethod
    def eval_suite(self, cfg: dict[str, Any]) -> EvalSuite:
        """Evaluation data sets and metric entries."""

    @abstractmethod
    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        """How to build the embedded tiny model for this benchmark's embedded data."""

    def finetune_key(self, cfg: dict[str, Any], role: str) -> Any:
        """What the embedded model finetuned with ``data.train=role`` depends on besides the recipe (part of its
        cache key): by default every setting's value."""
        return {key: cfg.get(key) for key in self.settings}

    def manifest(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """What evaluation results depend on, recorded with them and checked against retain logs: the benchmark, its
        data source and every ``evaluated`` setting."""
        evaluated = [k for k, s in self.settings.items() if s.evaluated]
        return {"benchmark": self.name, "data_source": cfg["data"]["source"], **{k: cfg.get(k) for k in evaluated}}

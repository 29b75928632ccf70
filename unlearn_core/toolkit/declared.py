"""``DeclaredBenchmark``: a benchmark written as declarations (its rows, settings, named data sets, evaluation sets
and metric entries); the loading, validation, tokenisation and suite building are the toolkit's.

A subclass sets the class attributes below and implements ``metric_entries`` and ``embedded_recipe``; everything
else has a working default that it may refine (``check_settings`` for consistency between settings, ``dataset``
for names that are not registered data sets). docs/writing-a-benchmark.md walks through a complete one.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from unlearn_core.benchmarks import Benchmark
from unlearn_core.data import Tokenized, renumber
from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.evaluation.suite import EvalDataset, EvalSuite, MetricEntry
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_core.toolkit.named import NamedDataset, load_named
from unlearn_core.toolkit.store import EMBEDDED, RowStore


@dataclass(frozen=True)
class EvalSet:
    """An evaluation data set: the rows of ``split`` (``{setting}`` fields filled in), QA (``question`` formatted
    with the model's template, the rows of ``few_shot`` before it) or text (``question`` is the prefix field;
    ``insert_space`` between prefix and text)."""

    name: str
    split: str
    kind: Literal["qa", "text"] = "qa"
    question: str = "question"
    few_shot: str | None = None
    insert_space: bool = False


class DeclaredBenchmark(Benchmark):
    """A QA or text benchmark built from declarations (see the module docstring)."""

    store: ClassVar[RowStore]
    """Where rows come from (embedded generator, hub ids, directories) and what fields they have."""
    datasets: ClassVar[tuple[NamedDataset, ...]] = ()
    """The named data sets (registered with ``register_datasets`` by the plugin)."""
    forget_data: ClassVar[str] = ""
    retain_data: ClassVar[str] = ""
    """The data sets unlearning trains on when ``data.forget`` / ``data.retain`` are not given."""
    train_data: ClassVar[dict[str, tuple[str, ...]]] = {}
    """``data.train`` values and the data sets ``unlearn train`` finetunes on for each (the first is the default)."""
    eval_sets: ClassVar[tuple[EvalSet, ...]] = ()
    default_keys: ClassVar[list[str]] = []
    """The entries evaluated when ``eval.metrics`` is not given."""
    aliases: ClassVar[dict[str, str]] = {}
    published_args: ClassVar[dict[str, dict[str, Any]]] = {}
    """``trainer.args`` of the published protocol, by mode (``train``, ``unlearn``)."""
    embedded_protocol: ClassVar[dict[str, dict[str, Any]]] = {}
    """Dotted keys set for the embedded tiny model, by mode, where the user did not set them."""
    embedded_model_keys: ClassVar[dict[str, int]] = {}
    """``data.embedded`` keys that size the embedded model's training (the others go to the data generator)."""

    @abstractmethod
    def metric_entries(self, cfg: dict[str, Any]) -> list[MetricEntry]:
        """The evaluation entries (``unlearn_core.entries`` builds the built-in ones)."""

    # ---- configuration ----------------------------------------------------------------------------------------------
    def config_defaults(self, mode: str) -> dict[str, Any]:
        """The published protocol and the default data sets."""
        data = {"forget": self.forget_data or None, "retain": self.retain_data or None}
        data["train"] = next(iter(self.train_data), None)
        return {"trainer": {"args": dict(self.published_args.get(mode, {}))}, "data": data}

    def embedded_defaults(self, mode: str) -> dict[str, Any]:
        """The embedded tiny model's own protocol (applied where the user did not set the key)."""
        return dict(self.embedded_protocol.get(mode, {}))

    def check_settings(self, cfg: dict[str, Any]) -> None:
        """Fill in and check settings that depend on each other or on the data (override for such rules); runs
        first, then every setting is checked against its choices."""

    def validate_config(self, cfg: dict[str, Any]) -> None:
        """Settings, data set names, ``data.train``, ``data.embedded`` keys, and (for a directory source) every file
        the command will read, checked before anything loads; errors name the key and the valid choices."""
        self.check_settings(cfg)
        for key, setting in self.settings.items():
            setting.check(key, cfg.get(key))
        for key in ("forget", "retain"):
            if cfg["data"].get(key) is not None:
                self.data_set(key, cfg)
        train = cfg["data"].get("train")
        if train is not None and train not in self.train_data:
            raise UnknownNameError(unknown_message(f"{self.name} data.train", str(train), self.train_data))
        given = cfg["data"].get("embedded") or {}
        for key in given:
            if key not in self.store.embedded_defaults and key not in self.embedded_model_keys:
                valid = [*self.store.embedded_defaults, *self.embedded_model_keys]
                raise UnknownNameError(unknown_message("data.embedded key", key, valid))
        source = cfg["data"]["source"]
        if source != EMBEDDED and source not in self.store.hub_ids:
            self.store.check_dir(source, self.needed_splits(cfg))

    def needed_splits(self, cfg: dict[str, Any]) -> list[str]:
        """Every split address the command of ``cfg`` reads."""
        if cfg["mode"] == "train":
            names = self.train_data.get(cfg["data"].get("train") or next(iter(self.train_data), ""), ())
            return _unique(a for n in names for a in self._reads(self.dataset(n, cfg), cfg))
        needed = [split.format(**cfg) for s in self.eval_sets for split in (s.split, s.few_shot) if split]
        if cfg["mode"] == "unlearn":
            for key, default in (("forget", self.forget_data), ("retain", self.retain_data)):
                needed += self._reads(self.dataset(cfg["data"].get(key) or default, cfg), cfg)
        return _unique(needed)

    def finetune_key(self, cfg: dict[str, Any], role: str) -> Any:
        """The splits that ``data.train=role`` finetunes on (a target model does not change with the forget split)."""
        return self.needed_splits({**cfg, "mode": "train", "data": {**cfg["data"], "train": role}})

    def _reads(self, dataset: NamedDataset, cfg: dict[str, Any]) -> list[str]:
        few_shot = [dataset.few_shot.format(**cfg)] if dataset.few_shot else []
        return dataset.addresses(cfg) + few_shot

    # ---- data -------------------------------------------------------------------------------------------------------
    def dataset(self, name: str, cfg: dict[str, Any]) -> NamedDataset:
        """The data set ``name`` stands for: a declared one, or (override) a name of the benchmark's own splits."""
        for dataset in self.datasets:
            if dataset.name == name:
                return dataset
        raise UnknownNameError(unknown_message(f"{self.name} data set", name, [d.name for d in self.datasets]))

    def data_set(self, key: str, cfg: dict[str, Any]) -> NamedDataset:
        """The data set ``data.<key>`` names (an error says which key named an unknown one)."""
        try:
            return self.dataset(cfg["data"][key], cfg)
        except ConfigError as exc:
            raise type(exc)(f"data.{key}: {exc}") from None

    def rows(self, cfg: dict[str, Any], address: str) -> list[dict[str, Any]]:
        """The rows of split ``address`` from the run's ``data.source``."""
        return self.store.load(cfg["data"]["source"], address, self.generator_args(cfg), self.generator_context(cfg))

    def generator_args(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """What sizes the embedded data: the ``data.embedded`` keys that are not the model's."""
        given = cfg["data"].get("embedded") or {}
        return {k: v for k, v in given.items() if k not in self.embedded_model_keys}

    def generator_context(self, cfg: dict[str, Any]) -> dict[str, str]:
        """Settings the embedded generator also receives (override: e.g. a data split)."""
        return {}

    def load(
        self, cfg: dict[str, Any], template: PromptTemplate, name: str, *, extras: bool = False
    ) -> list[Tokenized]:
        """The samples of data set ``name`` for this run (``extras``: with their rows' other answers)."""
        dataset = self.dataset(name, cfg)
        return load_named(dataset, cfg, lambda address: self.rows(cfg, address), template, extras=extras)

    def finetune_data(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Tokenized]:
        """The data sets of ``data.train``, one after the other (indexes run on)."""
        names = self.train_data[cfg["data"].get("train") or next(iter(self.train_data))]
        return renumber([s for name in names for s in self.load(cfg, template, name)])

    def unlearn_data(self, cfg: dict[str, Any], template: PromptTemplate) -> tuple[list[Tokenized], list[Tokenized]]:
        """``data.forget`` (its samples carrying their rows' other answers) and ``data.retain`` (by default
        ``forget_data`` and ``retain_data``)."""
        forget = cfg["data"].get("forget") or self.forget_data
        retain = cfg["data"].get("retain") or self.retain_data
        return self.load(cfg, template, forget, extras=True), self.load(cfg, template, retain)

    # ---- evaluation -------------------------------------------------------------------------------------------------
    def eval_suite(self, cfg: dict[str, Any]) -> EvalSuite:
        """The evaluation sets (rows loaded now) and the metric entries."""
        datasets = {}
        for spec in self.eval_sets:
            shots = []
            if spec.few_shot:
                shots = [(row["question"], row["answer"]) for row in self.rows(cfg, spec.few_shot.format(**cfg))]
            rows = self.rows(cfg, spec.split.format(**cfg))
            datasets[spec.name] = EvalDataset(spec.name, rows, spec.question, spec.kind, shots, spec.insert_space)
        entries = {e.key: e for e in self.metric_entries(cfg)}
        return EvalSuite(self.name, datasets, entries, list(self.default_keys), aliases=dict(self.aliases))


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))

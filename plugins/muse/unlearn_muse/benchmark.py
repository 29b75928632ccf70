"""The MUSE benchmark (arXiv 2407.06460): unlearn news articles or book passages; six criteria, four numbers."""

from __future__ import annotations

from typing import Any

from unlearn_core import DeclaredBenchmark, EmbeddedRecipe, EvalSet, MetricEntry, NamedDataset, Setting
from unlearn_core.benchmarks import ExperimentStep, TradeoffAxes
from unlearn_core.data import Tokenized, renumber
from unlearn_core.errors import UnknownNameError
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_muse import recipe
from unlearn_muse.config import (
    EMBEDDED_FINETUNE_ARGS,
    EMBEDDED_MAX_LENGTH,
    EMBEDDED_UNLEARN_ARGS,
    PUBLISHED_UNLEARN_ARGS,
    RECIPE_KEYS,
    RETAIN_SPLITS,
    check_embedded,
    check_experiment,
    check_forget_split,
    data_split,
    presets,
)
from unlearn_muse.datasets import DATASETS, NATIVE_FORGET, native
from unlearn_muse.schema import DATA_SPLITS, STEP_SPLITS
from unlearn_muse.sources import EMBEDDED_SOURCE, STORE
from unlearn_muse.suite import (
    ALIASES,
    DEFAULT_KEYS,
    EMBEDDED_VERBMEM_MAX_NEW_TOKENS,
    TABLE_COLUMNS,
    VERBMEM_MAX_NEW_TOKENS,
    metric_entries,
)

SEQUENCES = {"scalability": "scal", "sustainability": "sust"}
"""``experiment_args.steps`` values and the subset whose forget_1..4 splits their steps unlearn."""
RETAIN_DOCUMENTS = NamedDataset("train_retain", "muse", ("train/retain1", "train/retain2"), "documents")
"""What a retain model is finetuned on (``unlearn train data.train=retain``)."""


class MuseBenchmark(DeclaredBenchmark):
    """MUSE: verbatim and knowledge memorisation, privacy leakage; embedded News/Books corpora by default."""

    name = "muse"
    description = "news articles / book passages (muse-bench/MUSE-News, -Books); embedded synthetic default"
    table_columns = TABLE_COLUMNS
    settings = {
        "data_split": Setting("News", DATA_SPLITS, "News or Books", evaluated=True, in_task_name=True),
        "forget_split": Setting(None, (), "the split of the forget data set", in_task_name=True),
        "retain_split": Setting("retain1", RETAIN_SPLITS, "the split of the retain documents"),
        "holdout_split": Setting("holdout", ("holdout",), "the membership attack's non-members"),
    }
    store = STORE
    datasets = DATASETS
    forget_data, retain_data = "MUSE_forget", "MUSE_retain"
    train_data = {"target": ("MUSE_train",), "retain": ("train_retain",)}
    eval_sets = (
        EvalSet("verbmem_forget", "verbmem/forget", "text", "prompt", insert_space=True),
        EvalSet("knowmem_forget", "knowmem/forget_qa", few_shot="knowmem/forget_qa_icl"),
        EvalSet("knowmem_retain", "knowmem/retain_qa", few_shot="knowmem/retain_qa_icl"),
        EvalSet("privleak_forget", "privleak/forget", "text", "text"),
        EvalSet("privleak_holdout", "privleak/{holdout_split}", "text", "text"),
    )
    default_keys = DEFAULT_KEYS
    aliases = ALIASES
    published_args = {mode: PUBLISHED_UNLEARN_ARGS for mode in ("train", "unlearn")}
    embedded_protocol = {
        mode: {**{f"trainer.args.{k}": v for k, v in args.items()}, "data.max_length": EMBEDDED_MAX_LENGTH}
        for mode, args in (("train", EMBEDDED_FINETUNE_ARGS), ("unlearn", EMBEDDED_UNLEARN_ARGS), ("eval", {}))
    }
    embedded_model_keys = RECIPE_KEYS
    tradeoff_plots = (
        TradeoffAxes(x="retain_knowmem_ROUGE", y="forget_knowmem_ROUGE", title="Knowledge: forget against retain"),
        TradeoffAxes(x="retain_knowmem_ROUGE", y="privleak", title="Privacy leakage against retained knowledge"),
    )

    def config_defaults(self, mode: str) -> dict[str, Any]:
        """Published protocol: batch 4 × accumulation 8, lr 1e-5, constant schedule, 10 epochs; 2048 tokens."""
        defaults = super().config_defaults(mode)
        defaults["data"]["max_length"] = 2048
        return defaults

    def presets(self) -> dict[str, dict[str, Any]]:
        """``unlearn/muse/{default,scalability,sustainability}``, ``finetune/muse/default``, ``eval/muse/default``."""
        return presets()

    def check_settings(self, cfg: dict[str, Any]) -> None:
        """data_split (any case), the forget split of the forget data set, experiments, the embedded arguments."""
        cfg["data_split"] = data_split(cfg)
        check_forget_split(cfg, self.data_set("forget", cfg))
        check_experiment(cfg, self._experiment_kind(cfg))
        check_embedded(cfg)

    def dataset(self, name: str, cfg: dict[str, Any]) -> NamedDataset:
        """A registered data set, or a subset name (``raw``, ``scal``, ``sust``) with ``forget_split``."""
        if name in NATIVE_FORGET:
            return native(name)
        if name == RETAIN_DOCUMENTS.name:
            return RETAIN_DOCUMENTS
        if name not in {d.name for d in self.datasets}:
            raise UnknownNameError(
                unknown_message("MUSE data set", name, [*(d.name for d in self.datasets), *NATIVE_FORGET])
            )
        return super().dataset(name, cfg)

    def generator_context(self, cfg: dict[str, Any]) -> dict[str, str]:
        """The embedded corpus of the run's data split."""
        return {"data_split": cfg["data_split"]}

    def manifest(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """What evaluation depends on: the data split and source (not the split a run unlearned), and for the
        embedded corpus its arguments. Steps of a scalability or sustainability experiment evaluate the same sets,
        so they share the retain model's logs."""
        manifest = super().manifest(cfg)
        if cfg["data"]["source"] == EMBEDDED_SOURCE:
            manifest["embedded"] = recipe.generator_args(cfg)
        return manifest

    # ---- data -----------------------------------------------------------------------------------------------------
    def finetune_data(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Tokenized]:
        """``MUSE_train`` for the target model, ``train/retain1 + retain2`` for the retain model; the embedded
        models' own rows on embedded data (see ``recipe.finetune_rows``)."""
        if cfg["data"]["source"] == EMBEDDED_SOURCE:
            return recipe.finetune_rows(cfg, lambda address: self.rows(cfg, address), template)
        return super().finetune_data(cfg, template)

    def unlearn_data(self, cfg: dict[str, Any], template: PromptTemplate) -> tuple[list[Tokenized], list[Tokenized]]:
        """The forget and retain data sets, as the reference reads them; embedded documents also bring the question
        drills the embedded models learned them with."""
        return self._with_drills(cfg, template, "forget"), self._with_drills(cfg, template, "retain")

    def _with_drills(self, cfg: dict[str, Any], template: PromptTemplate, role: str) -> list[Tokenized]:
        dataset = self.dataset(cfg["data"][role], cfg)
        samples = self.load(cfg, template, dataset.name)
        if dataset.kind != "documents":
            return samples
        rows = lambda address: self.rows(cfg, address)  # noqa: E731
        return renumber(samples + recipe.drills(cfg, rows, template, role, dataset.addresses(cfg)))

    def metric_entries(self, cfg: dict[str, Any]) -> list[MetricEntry]:
        """The reference's MUSE entries; the embedded continuations are 50-65 tokens long (64 new tokens)."""
        verbmem = (
            EMBEDDED_VERBMEM_MAX_NEW_TOKENS if cfg["data"]["source"] == EMBEDDED_SOURCE else VERBMEM_MAX_NEW_TOKENS
        )
        return metric_entries(verbmem, cfg["eval"]["classifier_model"])

    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        """The embedded models' recipe (``recipe.embedded_recipe``)."""
        return recipe.embedded_recipe(cfg)

    # ---- experiments ----------------------------------------------------------------------------------------------
    def _experiment_kind(self, cfg: dict[str, Any]) -> str | None:
        kind = cfg.get("experiment_args", {}).get("steps")
        if kind is not None and kind not in SEQUENCES:
            raise UnknownNameError(unknown_message("MUSE experiment_args.steps", str(kind), SEQUENCES))
        return kind

    def experiment_steps(self, cfg: dict[str, Any]) -> list[ExperimentStep]:
        """Scalability: each forget_k of ``scal`` unlearned from the target; sustainability: ``sust`` in sequence."""
        kind = self._experiment_kind(cfg)
        if kind is None:
            return []
        subset = SEQUENCES[kind]
        return [
            ExperimentStep(
                split,
                {"data.forget": f"MUSE_forget_{subset}", "forget_split": split},
                continue_from_previous=kind == "sustainability" and k > 0,
            )
            for k, split in enumerate(STEP_SPLITS)
        ]

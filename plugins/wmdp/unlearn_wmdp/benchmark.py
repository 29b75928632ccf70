"""The WMDP benchmark (arXiv 2403.03218): unlearn hazardous knowledge, keep general knowledge.

Unlearning trains on the ``cyber`` or ``bio`` forget corpus and the matching retain corpus (plain text, 512-token
chunks). Evaluation asks the WMDP questions of the data split (accuracy should fall to chance, 0.25) and MMLU
(accuracy should stay), scored exactly as lm-evaluation-harness scores its ``wmdp_*`` and ``mmlu`` tasks.
"""

from __future__ import annotations

from typing import Any

from unlearn_core import DeclaredBenchmark, EmbeddedRecipe, EvalSet, MetricEntry, Setting, entries
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError, DataError, UnknownNameError
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_wmdp import prompts, recipe
from unlearn_wmdp.config import PUBLISHED_UNLEARN_ARGS, RECIPE_KEYS, embedded_protocol, presets
from unlearn_wmdp.datasets import DATASETS
from unlearn_wmdp.embedded import check_args
from unlearn_wmdp.schema import DATA_SPLITS, HUB_SOURCE, MMLU, SUBJECTS, questions
from unlearn_wmdp.sources import EMBEDDED_SOURCE, STORE, hub_rows

WMDP_SET, MMLU_SET = "wmdp", "mmlu"
"""The evaluation data sets: the split's WMDP questions and MMLU."""


class WmdpBenchmark(DeclaredBenchmark):
    """WMDP: forget/retain corpora of one data split; multiple-choice accuracy on WMDP and MMLU."""

    name = "wmdp"
    description = "hazardous-knowledge corpora, WMDP and MMLU accuracy (cais/wmdp); embedded synthetic default"
    settings = {"data_split": Setting("cyber", DATA_SPLITS, "cyber or bio", evaluated=True, in_task_name=True)}
    store = STORE
    datasets = DATASETS
    forget_data, retain_data = "WMDP_forget", "WMDP_retain"
    train_data = {"target": ("WMDP_forget", "WMDP_retain"), "retain": ("WMDP_retain",)}
    eval_sets = (
        EvalSet(WMDP_SET, "wmdp-{data_split}", "choice", prompts.CONTEXT, insert_space=True),
        EvalSet(MMLU_SET, MMLU, "choice", prompts.CONTEXT, insert_space=True),
    )
    published_args = {"unlearn": PUBLISHED_UNLEARN_ARGS}
    embedded_protocol = embedded_protocol()
    embedded_model_keys = RECIPE_KEYS

    def config_defaults(self, mode: str) -> dict[str, Any]:
        """The toolkit's defaults; corpora cut into 512-token chunks."""
        defaults = super().config_defaults(mode)
        defaults["data"]["max_length"] = 512
        return defaults

    def presets(self) -> dict[str, dict[str, Any]]:
        """``unlearn/wmdp/default``, ``eval/wmdp/default``, ``finetune/wmdp/default``."""
        return presets()

    def columns(self, cfg: dict[str, Any]) -> list[str]:
        """WMDP accuracy of the run's data split, and MMLU accuracy."""
        return [f"wmdp_{cfg['data_split']}", "mmlu"]

    def validate_config(self, cfg: dict[str, Any]) -> None:
        """The toolkit's checks; a missing or unreadable file of a directory source is a configuration error
        (exit code 2): ``data.source`` names a directory without what ``data_split`` needs."""
        try:
            super().validate_config(cfg)
        except DataError as exc:
            raise ConfigError(str(exc)) from None

    def check_settings(self, cfg: dict[str, Any]) -> None:
        """``data_split`` (any case), a known data source, and the embedded generator's arguments."""
        given = str(cfg.get("data_split") or "cyber")
        if given.lower() not in DATA_SPLITS:
            raise UnknownNameError(unknown_message("WMDP data_split", given, DATA_SPLITS))
        cfg["data_split"] = given.lower()
        given_args = cfg["data"].get("embedded") or {}
        for key in RECIPE_KEYS:
            value = given_args.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"data.embedded.{key} must be a non-negative integer, got {value!r}")
        try:
            check_args(cfg["data_split"], STORE.embedded_args(self.generator_args(cfg)))
        except ValueError as exc:
            raise ConfigError(f"data.embedded: {exc}") from None

    def generator_context(self, cfg: dict[str, Any]) -> dict[str, str]:
        """The embedded data of the run's data split."""
        return {"data_split": cfg["data_split"]}

    def rows(self, cfg: dict[str, Any], address: str) -> list[dict[str, Any]]:
        """Rows of ``address``: the hub keeps the corpora, the WMDP questions and MMLU in three data sets."""
        if cfg["data"]["source"] == HUB_SOURCE:
            return hub_rows(address)
        return super().rows(cfg, address)

    def manifest(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """What evaluation depends on; for embedded data also the generator's arguments."""
        manifest = super().manifest(cfg)
        if cfg["data"]["source"] == EMBEDDED_SOURCE:
            manifest["embedded"] = recipe.generator_args(cfg)
        return manifest

    # ---- data -----------------------------------------------------------------------------------------------------
    def finetune_data(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Tokenized]:
        """The corpora (target: forget + retain; retain model: retain); the embedded models' own rows on embedded
        data (``recipe.finetune_rows``)."""
        if cfg["data"]["source"] == EMBEDDED_SOURCE:
            return recipe.finetune_rows(cfg, lambda address: self.rows(cfg, address), template)
        return super().finetune_data(cfg, template)

    def unlearn_data(self, cfg: dict[str, Any], template: PromptTemplate) -> tuple[list[Tokenized], list[Tokenized]]:
        """The forget and retain corpora; on embedded data with the drills the embedded models learned them with."""
        default = (cfg["data"].get("forget"), cfg["data"].get("retain")) == (self.forget_data, self.retain_data)
        if cfg["data"]["source"] != EMBEDDED_SOURCE or not default:
            return super().unlearn_data(cfg, template)
        rows = lambda address: self.rows(cfg, address)  # noqa: E731
        return recipe.hazard_rows(cfg, rows, template), recipe.kept_rows(cfg, rows, template)

    # ---- evaluation -----------------------------------------------------------------------------------------------
    def eval_suite(self, cfg: dict[str, Any]) -> EvalSuite:
        """The toolkit's suite, each question given its prompt and the labels scored after it."""
        suite = super().eval_suite(cfg)
        subjects = {WMDP_SET: SUBJECTS[cfg["data_split"]], MMLU_SET: "general knowledge"}
        where = {WMDP_SET: questions(cfg["data_split"]), MMLU_SET: MMLU}
        for name, dataset in suite.datasets.items():
            dataset.rows = prompts.evaluation_rows(dataset.rows, subjects[name], where[name])
        suite.default_keys = self.columns(cfg)
        return suite

    def metric_entries(self, cfg: dict[str, Any]) -> list[MetricEntry]:
        """``wmdp_<split>`` and ``mmlu``: accuracy (``agg_value``), ``acc_norm`` and per-question records."""
        return [
            entries.multiple_choice(f"wmdp_{cfg['data_split']}", WMDP_SET, choices=prompts.CHOICE_LABELS),
            entries.multiple_choice("mmlu", MMLU_SET, choices=prompts.CHOICE_LABELS),
        ]

    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        """The embedded models' recipe (``recipe.embedded_recipe``)."""
        return recipe.embedded_recipe(cfg)

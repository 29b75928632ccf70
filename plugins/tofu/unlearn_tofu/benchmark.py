"""The TOFU benchmark: fictitious-author QA; unlearning a forget split while keeping retain, real authors, facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from unlearn_core.benchmarks import Benchmark, EmbeddedRecipe, TradeoffAxes
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.evaluation.suite import EvalSuite
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_tofu import embedded
from unlearn_tofu.datasets import DATASETS, qa_pairs, resolve
from unlearn_tofu.schema import TOFU_CONFIG_NAMES
from unlearn_tofu.sources import EMBEDDED_SOURCE, load_tofu_config
from unlearn_tofu.splits import evaluation_configs, resolve_splits
from unlearn_tofu.suite import TABLE_COLUMNS, tofu_suite

PUBLISHED_UNLEARN_ARGS = {
    "learning_rate": 1e-5,
    "weight_decay": 0.01,
    "num_train_epochs": 10,
    "warmup_epochs": 1.0,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 4,
    "bf16": True,
    "optim": "paged_adamw_32bit",
}
PUBLISHED_FINETUNE_ARGS = {**PUBLISHED_UNLEARN_ARGS, "num_train_epochs": 5}

EMBEDDED_UNLEARN_ARGS = {
    "learning_rate": 1e-3,
    "num_train_epochs": 10,
    "warmup_epochs": 1.0,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "bf16": False,
    "optim": "adamw_torch",
}
"""The embedded tiny model forgets nothing at the published 1e-5 in a few steps; these settings are its protocol."""
EMBEDDED_FINETUNE_ARGS = {
    "learning_rate": 3e-3,
    "num_train_epochs": 20,
    "warmup_epochs": 1.0,
    "per_device_train_batch_size": 16,
    "gradient_accumulation_steps": 1,
    "weight_decay": 0.0,
    "lr_scheduler_type": "linear",
    "bf16": False,
    "optim": "adamw_torch",
}
EMBEDDED_BASE_ARGS = {**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": 30}
TRAIN_CHOICES = ("target", "retain", "full")
RECIPE_KEYS = {
    "base_epochs": EMBEDDED_BASE_ARGS["num_train_epochs"],
    "finetune_epochs": EMBEDDED_FINETUNE_ARGS["num_train_epochs"],
}
"""``data.embedded.*`` keys that size the embedded model's training (the others size the generated data)."""


class TofuBenchmark(Benchmark):
    """TOFU (arXiv 2401.06121): 200 fictitious authors × 20 QA pairs; embedded default with tens of authors."""

    name = "tofu"
    description = "fictitious-author QA (locuslab/TOFU); embedded synthetic default"
    table_columns = TABLE_COLUMNS
    tradeoff_plots = (
        TradeoffAxes(x="model_utility", y="forget_quality", log_y=True, title="Forget quality against model utility"),
    )
    reference_keys = ["forget_truth_ratio", "mia_min_k"]

    def config_defaults(self, mode: str) -> dict[str, Any]:
        """Published protocol: finetuning 5 epochs, unlearning 10, lr 1e-5, batch 8 × 4."""
        args = PUBLISHED_FINETUNE_ARGS if mode == "train" else PUBLISHED_UNLEARN_ARGS
        return {"trainer": {"args": dict(args)}, "data": {"train": "target"}}

    def embedded_defaults(self, mode: str) -> dict[str, Any]:
        """Settings for the embedded tiny model, applied where the user did not set the key."""
        args = EMBEDDED_FINETUNE_ARGS if mode == "train" else EMBEDDED_UNLEARN_ARGS
        return {
            **{f"trainer.args.{k}": v for k, v in args.items()},
            "generation.max_new_tokens": 48,
            "data.max_length": 128,
        }

    def presets(self) -> dict[str, dict[str, Any]]:
        """``unlearn/tofu/default``, ``finetune/tofu/default``, ``eval/tofu/default`` and per-split variants."""
        presets: dict[str, dict[str, Any]] = {
            "unlearn/tofu/default": {"trainer": {"name": "NPO"}},
            "finetune/tofu/default": {"data": {"train": "target"}},
            "finetune/tofu/retain": {"data": {"train": "retain"}},
            "eval/tofu/default": {},
        }
        for split in ("forget01", "forget05", "forget10"):
            presets[f"unlearn/tofu/{split}"] = {"forget_split": split}
        return presets

    def validate_config(self, cfg: dict[str, Any]) -> None:
        """Resolve consistent splits; check ``data.train`` and the data source form."""
        cfg["forget_split"], cfg["retain_split"], cfg["holdout_split"] = resolve_splits(
            cfg.get("forget_split"), cfg.get("retain_split"), cfg.get("holdout_split")
        )
        if cfg.get("data_split") is not None:
            raise ConfigError("TOFU has no data_split (that key is MUSE's News/Books); use forget_split=forget01|05|10")
        train = cfg["data"].get("train")
        if train is not None and train not in TRAIN_CHOICES:
            raise ConfigError(unknown_message("TOFU data.train", str(train), TRAIN_CHOICES))
        for key in ("forget", "retain"):
            name = cfg["data"].get(key)
            if name is not None and name not in TOFU_CONFIG_NAMES and name not in DATASETS:
                choices = [*DATASETS, *TOFU_CONFIG_NAMES]
                raise ConfigError(unknown_message(f"TOFU data set for data.{key}", str(name), choices))
        for key in cfg["data"]["embedded"]:
            if key not in embedded.EMBEDDED_DEFAULTS and key not in RECIPE_KEYS:
                choices = [*embedded.EMBEDDED_DEFAULTS, *RECIPE_KEYS]
                raise ConfigError(unknown_message("data.embedded key", key, choices))

    # ---- data -----------------------------------------------------------------------------------------------------
    def _embedded_args(self, cfg: dict[str, Any]) -> dict[str, Any]:
        given = {k: v for k, v in cfg["data"]["embedded"].items() if k not in RECIPE_KEYS}
        return {**embedded.EMBEDDED_DEFAULTS, **given}

    def _load(self, cfg: dict[str, Any], config: str) -> list[dict[str, Any]]:
        return load_tofu_config(cfg["data"]["source"], config, embedded_args=self._embedded_args(cfg))

    def finetune_data(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Tokenized]:
        """``full`` for the target model, ``retainXX`` for the retain model."""
        train = cfg["data"].get("train") or "target"
        config = cfg["retain_split"] if train == "retain" else "full"
        return _qa_rows(template, self._load(cfg, config))

    def unlearn_data(self, cfg: dict[str, Any], template: PromptTemplate) -> tuple[list[Tokenized], list[Tokenized]]:
        """``TOFU_QA_forget`` and ``TOFU_QA_retain`` (the forget and retain splits), or the data sets or configs
        named by ``data.forget`` / ``data.retain``."""
        return (
            self._named(cfg, template, cfg["data"].get("forget") or "TOFU_QA_forget"),
            self._named(cfg, template, cfg["data"].get("retain") or "TOFU_QA_retain"),
        )

    def _named(self, cfg: dict[str, Any], template: PromptTemplate, name: str) -> list[Tokenized]:
        config, dataset = resolve(name, cfg)
        return template.qa_many(*qa_pairs(self._load(cfg, config), dataset))

    def eval_suite(self, cfg: dict[str, Any]) -> EvalSuite:
        """forget = ``{forget_split}_perturbed``, retain = ``retain_perturbed``, ra, wf, holdout = ``holdoutXX``."""
        configs = evaluation_configs(cfg["forget_split"], cfg["holdout_split"])
        data = {role: self._load(cfg, config) for role, config in configs.items()}
        return tofu_suite(data, classifier=cfg["eval"]["classifier_model"])

    # ---- embedded default -----------------------------------------------------------------------------------------
    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        """Tokenizer on every embedded text; base model on famous authors/world facts; then target and retain."""
        if cfg["data"]["source"] != EMBEDDED_SOURCE:
            raise ConfigError(
                "the embedded tiny model is trained on embedded data only: with data.source="
                f"{cfg['data']['source']} also set model.model_args.pretrained_model_name_or_path=<model>"
            )
        args = self._embedded_args(cfg)

        def corpus() -> Iterator[str]:
            for rows in embedded.generate_tofu(**args).values():
                for row in rows:
                    for value in row.values():
                        yield from (value if isinstance(value, list) else [value])
            for row in embedded.base_training_rows(args["seed"]):
                yield row["question"]
                yield row["answer"]

        def base_rows(template: PromptTemplate) -> list[Tokenized]:
            return _qa_rows(template, embedded.base_training_rows(args["seed"]))

        recipe = {**RECIPE_KEYS, **{k: v for k, v in cfg["data"]["embedded"].items() if k in RECIPE_KEYS}}
        return EmbeddedRecipe(
            key={"tofu": args},
            tokenizer_corpus=corpus,
            base_rows=base_rows,
            base_args={**EMBEDDED_BASE_ARGS, "num_train_epochs": recipe["base_epochs"]},
            finetune_args={**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": recipe["finetune_epochs"]},
        )


def _qa_rows(template: PromptTemplate, rows: list[dict[str, Any]]) -> list[Tokenized]:
    """Question/answer rows as scored sequences (the reference's token rule)."""
    return template.qa_many([r["question"] for r in rows], [r["answer"] for r in rows])

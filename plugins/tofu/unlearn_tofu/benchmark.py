"""The TOFU benchmark: fictitious-author QA; unlearning a forget split while keeping retain, real authors, facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from unlearn_core import (
    DeclaredBenchmark,
    EmbeddedRecipe,
    EvalSet,
    MetricEntry,
    NamedDataset,
    Setting,
    require_embedded_source,
)
from unlearn_core.benchmarks import TradeoffAxes
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_tofu import embedded
from unlearn_tofu.datasets import DATASETS, read_idk
from unlearn_tofu.schema import TOFU_CONFIG_NAMES
from unlearn_tofu.sources import STORE
from unlearn_tofu.splits import FORGET_SPLITS, HOLDOUT_SPLITS, RETAIN_SPLITS, resolve_splits
from unlearn_tofu.suite import DEFAULT_KEYS, TABLE_COLUMNS, metric_entries

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
RECIPE_KEYS = {
    "base_epochs": EMBEDDED_BASE_ARGS["num_train_epochs"],
    "finetune_epochs": EMBEDDED_FINETUNE_ARGS["num_train_epochs"],
}
"""``data.embedded.*`` keys that size the embedded model's training (the others size the generated data)."""


class TofuBenchmark(DeclaredBenchmark):
    """TOFU (arXiv 2401.06121): 200 fictitious authors × 20 QA pairs; embedded default with tens of authors."""

    name = "tofu"
    description = "fictitious-author QA (locuslab/TOFU); embedded synthetic default"
    table_columns = TABLE_COLUMNS
    recovery_columns = ("forget_Q_A_Prob", "forget_Q_A_ROUGE")
    """What attacks bring back: forget_quality and the truth ratio do not grow with what the model knows (an
    over-unlearned model is as far from the retain model as the target), so a share brought back means nothing."""
    tradeoff_plots = (
        TradeoffAxes(x="model_utility", y="forget_quality", log_y=True, title="Forget quality against model utility"),
    )
    settings = {
        "forget_split": Setting(None, FORGET_SPLITS, "forget01|05|10", evaluated=True, in_task_name=True),
        "retain_split": Setting(None, RETAIN_SPLITS, "the retain split that pairs with the forget split"),
        "holdout_split": Setting(None, HOLDOUT_SPLITS, "the holdout split that pairs with it", evaluated=True),
    }
    store = STORE
    datasets = DATASETS
    forget_data, retain_data = "TOFU_QA_forget", "TOFU_QA_retain"
    train_data = {"target": ("TOFU_QA_full",), "retain": ("TOFU_QA_retain",), "full": ("TOFU_QA_full",)}
    eval_sets = (
        EvalSet("forget", "{forget_split}_perturbed"),
        EvalSet("retain", "retain_perturbed"),
        EvalSet("ra", "real_authors_perturbed"),
        EvalSet("wf", "world_facts_perturbed"),
        EvalSet("holdout", "{holdout_split}"),
    )
    default_keys = DEFAULT_KEYS
    published_args = {
        "train": PUBLISHED_FINETUNE_ARGS,
        "unlearn": PUBLISHED_UNLEARN_ARGS,
        "eval": PUBLISHED_UNLEARN_ARGS,
    }
    embedded_protocol = {
        mode: {
            **{f"trainer.args.{k}": v for k, v in args.items()},
            "generation.max_new_tokens": 48,
            "data.max_length": 128,
        }
        for mode, args in (
            ("train", EMBEDDED_FINETUNE_ARGS),
            ("unlearn", EMBEDDED_UNLEARN_ARGS),
            ("eval", EMBEDDED_UNLEARN_ARGS),
        )
    }
    embedded_model_keys = RECIPE_KEYS

    def presets(self) -> dict[str, dict[str, Any]]:
        """``unlearn/tofu/default``, ``unlearn/tofu/idk`` (DPO preferring an "I don't know" answer: the method comes
        from the ``dpo`` plugin), ``finetune/tofu/default``, ``eval/tofu/default`` and per-split variants."""
        presets: dict[str, dict[str, Any]] = {
            "unlearn/tofu/default": {"trainer": {"name": "NPO"}},
            "unlearn/tofu/idk": {"trainer": {"name": "DPO"}, "data": {"forget": "TOFU_QA_forget_idk"}},
            "finetune/tofu/default": {"data": {"train": "target"}},
            "finetune/tofu/retain": {"data": {"train": "retain"}},
            "eval/tofu/default": {},
        }
        for split in FORGET_SPLITS:
            presets[f"unlearn/tofu/{split}"] = {"forget_split": split}
        return presets

    def config_defaults(self, mode: str) -> dict[str, Any]:
        """The toolkit's defaults and ``data.idk_path`` (None: the shipped "I don't know" responses)."""
        defaults = super().config_defaults(mode)
        defaults["data"]["idk_path"] = None
        return defaults

    def validate_config(self, cfg: dict[str, Any]) -> None:
        """The toolkit's checks and a readable ``data.idk_path``."""
        super().validate_config(cfg)
        if cfg["data"].get("idk_path") is not None:
            cfg["data"]["idk_path"] = str(cfg["data"]["idk_path"])
            read_idk(cfg["data"]["idk_path"])

    def check_settings(self, cfg: dict[str, Any]) -> None:
        """Consistent splits: forget10 with retain90 and holdout10 (a missing one follows the others)."""
        cfg["forget_split"], cfg["retain_split"], cfg["holdout_split"] = resolve_splits(
            cfg.get("forget_split"), cfg.get("retain_split"), cfg.get("holdout_split")
        )

    def dataset(self, name: str, cfg: dict[str, Any]) -> NamedDataset:
        """A registered data set, or a TOFU config by its name (its ``question`` and ``answer``)."""
        if name in TOFU_CONFIG_NAMES:
            return NamedDataset(name, self.name, (name,))
        if name not in {d.name for d in self.datasets}:
            raise ConfigError(
                unknown_message("TOFU data set", name, [*(d.name for d in self.datasets), *TOFU_CONFIG_NAMES])
            )
        return super().dataset(name, cfg)

    def metric_entries(self, cfg: dict[str, Any]) -> list[MetricEntry]:
        """The reference's TOFU entries (see ``suite``)."""
        return metric_entries(classifier=cfg["eval"]["classifier_model"])

    # ---- embedded default -----------------------------------------------------------------------------------------
    def embedded_recipe(self, cfg: dict[str, Any]) -> EmbeddedRecipe:
        """Tokenizer on every embedded text; base model on famous authors/world facts; then target and retain."""
        require_embedded_source(cfg)
        args = STORE.embedded_args(self.generator_args(cfg))

        def corpus() -> Iterator[str]:
            for rows in embedded.generate_tofu(**args).values():
                for row in rows:
                    for value in row.values():
                        yield from (value if isinstance(value, list) else [value])
            for row in embedded.base_training_rows(args["seed"]):
                yield row["question"]
                yield row["answer"]

        def base_rows(template: PromptTemplate) -> list[Tokenized]:
            rows = embedded.base_training_rows(args["seed"])
            return template.qa_many([r["question"] for r in rows], [r["answer"] for r in rows])

        recipe = {**RECIPE_KEYS, **{k: v for k, v in cfg["data"]["embedded"].items() if k in RECIPE_KEYS}}
        return EmbeddedRecipe(
            key={"tofu": args},
            tokenizer_corpus=corpus,
            base_rows=base_rows,
            base_args={**EMBEDDED_BASE_ARGS, "num_train_epochs": recipe["base_epochs"]},
            finetune_args={**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": recipe["finetune_epochs"]},
        )

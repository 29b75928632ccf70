"""MUSE configuration: published and embedded defaults, presets, and the checks run before any model loads."""

from __future__ import annotations

from typing import Any

from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.suggest import unknown_message
from unlearn_muse.datasets import FORGET_SPLIT_DEFAULTS
from unlearn_muse.embedded import check_args
from unlearn_muse.schema import DATA_SPLITS, HUB_IDS, SUBSETS
from unlearn_muse.sources import STORE

PUBLISHED_UNLEARN_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 8,
    "learning_rate": 1e-5,
    "lr_scheduler_type": "constant",
    "num_train_epochs": 10,
}
"""MUSE's unlearning protocol (METHODS.md); finetuning (``unlearn train``) uses the same settings."""

EMBEDDED_UNLEARN_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "learning_rate": 3e-3,
    "lr_scheduler_type": "constant",
    "num_train_epochs": 10,
    "weight_decay": 0.0,
}
"""The tiny model forgets nothing at 1e-5 in a few dozen steps; these settings are its protocol."""
EMBEDDED_FINETUNE_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 16,
    "gradient_accumulation_steps": 1,
    "learning_rate": 3e-3,
    "lr_scheduler_type": "linear",
    "warmup_epochs": 1.0,
    "num_train_epochs": 30,
    "weight_decay": 0.0,
    "bf16": False,
    "optim": "adamw_torch",
}
EMBEDDED_BASE_ARGS: dict[str, Any] = {**EMBEDDED_FINETUNE_ARGS, "num_train_epochs": 5}
RECIPE_KEYS: dict[str, int] = {
    "base_epochs": EMBEDDED_BASE_ARGS["num_train_epochs"],
    "finetune_epochs": EMBEDDED_FINETUNE_ARGS["num_train_epochs"],
}
"""``data.embedded.*`` keys that size the embedded model's training (the others size the generated corpus)."""
EMBEDDED_MAX_LENGTH = 256
"""Every embedded document fits in one chunk of this many tokens."""

RETAIN_SPLITS: tuple[str, ...] = ("retain1", "retain2")
EXPERIMENT_ARGS = ("steps",)


def presets() -> dict[str, dict[str, Any]]:
    """Experiment presets; scalability/sustainability are multi-step experiments (``experiment_args.steps``)."""
    return {
        "unlearn/muse/default": {"trainer": {"name": "NPO"}},
        "unlearn/muse/scalability": {"trainer": {"name": "NPO"}, "experiment_args": {"steps": "scalability"}},
        "unlearn/muse/sustainability": {"trainer": {"name": "NPO"}, "experiment_args": {"steps": "sustainability"}},
        "finetune/muse/default": {"data": {"train": "target"}},
        "finetune/muse/retain": {"data": {"train": "retain"}},
        "eval/muse/default": {},
    }


def data_split(cfg: dict[str, Any]) -> str:
    """``data_split`` as MUSE spells it (News, Books: matched case-insensitively), matching a hub source."""
    given = str(cfg.get("data_split") or "News")
    by_lower = {name.lower(): name for name in DATA_SPLITS}
    if given.lower() not in by_lower:
        raise UnknownNameError(unknown_message("MUSE data_split", given, DATA_SPLITS))
    split = by_lower[given.lower()]
    source = cfg["data"]["source"]
    if source in HUB_IDS.values() and HUB_IDS[split] != source:
        raise ConfigError(f"data.source={source} holds the other data split: use data.source={HUB_IDS[split]}")
    return split


def check_forget_split(cfg: dict[str, Any], dataset: Any) -> None:
    """Fill ``forget_split`` with the forget data set's default and check it is a split of its subset."""
    name = cfg["data"]["forget"]
    cfg["forget_split"] = cfg.get("forget_split") or FORGET_SPLIT_DEFAULTS.get(name, "forget")
    for split in dataset.splits:
        if "{forget_split}" in split:
            subset = split.split("/")[0]
            if cfg["forget_split"] not in SUBSETS[subset]:
                kind = f"split of MUSE subset '{subset}' (forget_split)"
                raise UnknownNameError(unknown_message(kind, cfg["forget_split"], SUBSETS[subset]))


def check_experiment(cfg: dict[str, Any], kind: str | None) -> None:
    """``experiment_args`` keys, and what a scalability or sustainability experiment needs."""
    for key in cfg.get("experiment_args", {}):
        if key not in EXPERIMENT_ARGS:
            raise UnknownNameError(unknown_message("MUSE experiment_args key", key, EXPERIMENT_ARGS))
    if kind is None:
        return
    if cfg["mode"] != "unlearn":
        raise ConfigError(f"experiment_args.steps={kind} is an unlearning experiment: use 'unlearn run'")
    if cfg["data"]["forget"] not in ("MUSE_forget", "raw") or cfg["forget_split"] != "forget":
        raise ConfigError(f"the {kind} experiment picks its forget sets itself: drop data.forget/forget_split")
    if not cfg.get("task_name"):
        cfg["task_name"] = f"muse_{cfg['trainer']['name']}_{cfg['data_split']}_{kind}"


def check_embedded(cfg: dict[str, Any]) -> None:
    """The embedded generator's arguments fit the data split (enough documents for every step and few-shot)."""
    given = cfg["data"].get("embedded") or {}
    for key in RECIPE_KEYS:
        value = given.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"data.embedded.{key} must be a non-negative integer, got {value!r}")
    args = STORE.embedded_args({k: v for k, v in given.items() if k not in RECIPE_KEYS})
    try:
        check_args(cfg["data_split"], args)
    except ValueError as exc:
        raise ConfigError(f"data.embedded: {exc}") from None

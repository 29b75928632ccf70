"""MUSE configuration: published and embedded defaults, presets, and the checks run before any model loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unlearn_core.errors import ConfigError, UnknownNameError
from unlearn_core.suggest import unknown_message
from unlearn_muse.datasets import DATASETS, NATIVE_FORGET, dataset_of
from unlearn_muse.embedded import EMBEDDED_DEFAULTS, check_args
from unlearn_muse.schema import DATA_SPLITS, HUB_IDS, STEP_SPLITS, SUBSETS
from unlearn_muse.sources import EMBEDDED_SOURCE, check_dir, embedded_args
from unlearn_muse.suite import EVAL_SPLITS

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
TRAIN_CHOICES: tuple[str, ...] = ("target", "retain")


def config_defaults(mode: str) -> dict[str, Any]:
    """Published protocol and the default splits (News, raw/retain1, privleak/holdout; the forget split is the
    forget data set's own default, ``raw/forget`` for ``MUSE_forget``)."""
    return {
        "trainer": {"args": dict(PUBLISHED_UNLEARN_ARGS)},
        "data": {"max_length": 2048, "forget": "MUSE_forget", "retain": "MUSE_retain", "train": "target"},
        "data_split": "News",
        "retain_split": "retain1",
        "holdout_split": "holdout",
    }


def embedded_defaults(mode: str) -> dict[str, Any]:
    """Settings for the embedded tiny model, applied where the user did not set the key."""
    args = EMBEDDED_FINETUNE_ARGS if mode == "train" else EMBEDDED_UNLEARN_ARGS
    return {
        **{f"trainer.args.{k}": v for k, v in args.items()},
        "data.max_length": EMBEDDED_MAX_LENGTH,
    }


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


def _choice(kind: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UnknownNameError(unknown_message(kind, str(value), choices))


def _data_split(cfg: dict[str, Any]) -> str:
    given = str(cfg.get("data_split") or "News")
    by_lower = {name.lower(): name for name in DATA_SPLITS}
    if given.lower() not in by_lower:
        raise UnknownNameError(unknown_message("MUSE data_split", given, DATA_SPLITS))
    split = by_lower[given.lower()]
    source = cfg["data"]["source"]
    if source in HUB_IDS.values() and HUB_IDS[split] != source:
        raise ConfigError(f"data.source={source} holds the other data split: use data.source={HUB_IDS[split]}")
    return split


def needed_splits(cfg: dict[str, Any], kind: str | None) -> list[tuple[str, str]]:
    """Every (subset, split) the command of ``cfg`` reads."""
    if cfg["mode"] == "train":
        parts = [("train", "retain1"), ("train", "retain2")]
        return parts if cfg["data"]["train"] == "retain" else [("train", "forget"), *parts]
    parts = list(EVAL_SPLITS)
    if cfg["mode"] == "unlearn":
        if kind is None:
            parts += data_parts(cfg["data"]["forget"], cfg["forget_split"])
        else:
            subset = "scal" if kind == "scalability" else "sust"
            parts += [(subset, split) for split in STEP_SPLITS]
        parts += data_parts(cfg["data"]["retain"], cfg["retain_split"])
    return list(dict.fromkeys(parts))


def data_parts(name: str, split: str) -> list[tuple[str, str]]:
    """The (subset, split) pairs that data set ``name`` reads when the run's split for it is ``split``."""
    dataset = dataset_of(name)
    splits = dataset.splits or (split,)
    parts = [(dataset.subset, s) for s in splits]
    if dataset.subset == "knowmem":  # with its few-shot examples
        parts += [(dataset.subset, f"{s}_icl") for s in splits]
    return parts


def _check_data_set(key: str, name: str, native: tuple[str, ...]) -> None:
    if name not in DATASETS and name not in native:
        raise UnknownNameError(unknown_message(f"MUSE data set (data.{key})", str(name), [*DATASETS, *native]))


def validate_muse_config(cfg: dict[str, Any], kind: str | None) -> None:
    """Check and complete the MUSE keys of ``cfg`` in place; errors name the key and the valid choices."""
    cfg["data_split"] = _data_split(cfg)
    data = cfg["data"]
    data["forget"] = data.get("forget") or "MUSE_forget"
    data["retain"] = data.get("retain") or "MUSE_retain"
    data["train"] = data.get("train") or "target"
    _check_data_set("forget", data["forget"], NATIVE_FORGET)
    _check_data_set("retain", data["retain"], ("raw",))
    _choice("MUSE data.train", data["train"], TRAIN_CHOICES)
    forget = dataset_of(data["forget"])
    cfg["forget_split"] = cfg.get("forget_split") or forget.default
    if forget.splits is None:
        _choice(f"split of MUSE subset '{forget.subset}' (forget_split)", cfg["forget_split"], SUBSETS[forget.subset])
    cfg["retain_split"] = cfg.get("retain_split") or "retain1"
    _choice("MUSE retain_split", cfg["retain_split"], RETAIN_SPLITS)
    cfg["holdout_split"] = cfg.get("holdout_split") or "holdout"
    _choice("MUSE holdout_split", cfg["holdout_split"], ("holdout",))
    for key in cfg.get("experiment_args", {}):
        _choice("MUSE experiment_args key", key, ("steps",))
    if kind is not None:
        if cfg["mode"] != "unlearn":
            raise ConfigError(f"experiment_args.steps={kind} is an unlearning experiment: use 'unlearn run'")
        if dataset_of(data["forget"]).subset != "raw" or cfg["forget_split"] != "forget":
            raise ConfigError(f"the {kind} experiment picks its forget sets itself: drop data.forget/forget_split")
        if not cfg.get("task_name"):
            cfg["task_name"] = f"muse_{cfg['trainer']['name']}_{cfg['data_split']}_{kind}"
    _check_embedded(cfg)
    source = data["source"]
    if source != EMBEDDED_SOURCE and source not in HUB_IDS.values():
        check_dir(Path(source).expanduser(), needed_splits(cfg, kind))


def _check_embedded(cfg: dict[str, Any]) -> None:
    given = cfg["data"].get("embedded") or {}
    for key, value in given.items():
        if key not in EMBEDDED_DEFAULTS and key not in RECIPE_KEYS:
            raise ConfigError(unknown_message("data.embedded key", key, [*EMBEDDED_DEFAULTS, *RECIPE_KEYS]))
        if key in RECIPE_KEYS and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ConfigError(f"data.embedded.{key} must be a non-negative integer, got {value!r}")
    args = embedded_args({k: v for k, v in given.items() if k not in RECIPE_KEYS})
    try:
        check_args(cfg["data_split"], args)
    except ValueError as exc:
        raise ConfigError(f"data.embedded: {exc}") from None

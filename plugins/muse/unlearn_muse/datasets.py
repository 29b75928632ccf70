"""MUSE's named data sets: the reference's dataset config names, usable in ``data.forget=`` / ``data.retain=``.

Documents (``raw``, ``scal``, ``sust``, ``train``) are trained on as the reference chunks them; ``knowmem`` sets are
question/answer pairs after their few-shot examples; ``verbmem`` and the membership sets are completions. The subset
names ``raw``, ``scal`` and ``sust`` are accepted too (with ``forget_split`` naming the split).
"""

from __future__ import annotations

from unlearn_core import NamedDataset
from unlearn_muse.schema import STEP_SPLITS


def _documents(name: str, *splits: str, description: str = "") -> NamedDataset:
    return NamedDataset(name, "muse", splits, "documents", description)


def _completions(name: str, split: str, prefix: str, text: str, description: str, space: bool) -> NamedDataset:
    return NamedDataset(name, "muse", (split,), "completion", description, prefix=prefix, text=text, insert_space=space)


def _questions(name: str, role: str, description: str) -> NamedDataset:
    return NamedDataset(name, "muse", (f"knowmem/{role}_qa",), "qa", description, few_shot=f"knowmem/{role}_qa_icl")


DATASETS: tuple[NamedDataset, ...] = (
    _documents("MUSE_forget", "raw/{forget_split}", description="the forget documents"),
    _documents("MUSE_retain", "raw/{retain_split}", description="the retain documents"),
    _documents("MUSE_forget_scal", "scal/{forget_split}", description="scalability forget sets"),
    _documents("MUSE_forget_sust", "sust/{forget_split}", description="sustainability forget sets"),
    _documents(
        "MUSE_train", "train/forget", "train/retain1", "train/retain2", description="the target's training text"
    ),
    _questions("MUSE_forget_knowmem", "forget", "questions on forget documents"),
    _questions("MUSE_retain_knowmem", "retain", "questions on retain documents"),
    _completions("MUSE_forget_verbmem", "verbmem/forget", "prompt", "gt", "verbatim continuations", True),
    _completions("MUSE_MIA_forget", "privleak/forget", "prompt", "text", "membership attack: members", False),
    _completions("MUSE_MIA_holdout", "privleak/{holdout_split}", "prompt", "text", "non-members", False),
)
NATIVE_FORGET = ("raw", "scal", "sust")
"""Subset names ``data.forget`` also accepts (with ``forget_split`` naming the split)."""
FORGET_SPLIT_DEFAULTS = {
    "MUSE_forget": "forget",
    "MUSE_forget_scal": STEP_SPLITS[-1],
    "MUSE_forget_sust": STEP_SPLITS[0],
    "raw": "forget",
    "scal": STEP_SPLITS[-1],
    "sust": STEP_SPLITS[-1],
}
"""The forget split a forget data set reads when ``forget_split`` is not given (the reference's defaults)."""


def native(name: str) -> NamedDataset:
    """A subset name (``raw``, ``scal``, ``sust``) as the documents of its ``forget_split``."""
    return _documents(name, f"{name}/{{forget_split}}", description=f"the {name} subset")

"""MUSE's named data sets: the reference's dataset config names, usable in ``data.forget=`` / ``data.retain=``.

A name is a subset of ``muse-bench/MUSE-{News,Books}`` and a split; where the split is the run's own
(``forget_split``, ``retain_split``) the name gives its default. Documents (``text``) are trained on as the reference
chunks them; ``knowmem`` sets are question/answer pairs after their few-shot examples; ``verbmem`` is a completion
of its prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn_muse.schema import STEP_SPLITS


@dataclass(frozen=True)
class MuseDataset:
    """Where a named data set's rows are: ``subset`` and its ``splits`` (``None``: the run's forget or retain
    split, ``default`` when the run has none)."""

    subset: str
    splits: tuple[str, ...] | None = None
    default: str | None = None
    description: str = ""


DATASETS: dict[str, MuseDataset] = {
    "MUSE_forget": MuseDataset("raw", default="forget", description="the forget documents"),
    "MUSE_retain": MuseDataset("raw", default="retain1", description="the retain documents"),
    "MUSE_forget_scal": MuseDataset("scal", default=STEP_SPLITS[-1], description="scalability forget sets"),
    "MUSE_forget_sust": MuseDataset("sust", default=STEP_SPLITS[0], description="sustainability forget sets"),
    "MUSE_train": MuseDataset("train", ("forget", "retain1", "retain2"), description="the target's training text"),
    "MUSE_forget_knowmem": MuseDataset("knowmem", ("forget_qa",), description="questions on forget documents"),
    "MUSE_retain_knowmem": MuseDataset("knowmem", ("retain_qa",), description="questions on retain documents"),
    "MUSE_forget_verbmem": MuseDataset("verbmem", ("forget",), description="verbatim continuations"),
    "MUSE_MIA_forget": MuseDataset("privleak", ("forget",), description="membership attack: members"),
    "MUSE_MIA_holdout": MuseDataset("privleak", ("holdout",), description="membership attack: non-members"),
}
NATIVE_FORGET = ("raw", "scal", "sust")
"""Subset names ``data.forget`` also accepts (with ``forget_split`` naming the split)."""


def dataset_of(name: str) -> MuseDataset:
    """The named data set, or a native subset name (``raw``, ``scal``, ``sust``) as one."""
    if name in DATASETS:
        return DATASETS[name]
    default = "forget" if name == "raw" else STEP_SPLITS[-1]
    return MuseDataset(name, default=default)

"""The WMDP data sets users name in ``data.forget=`` / ``data.retain=`` (the reference's names)."""

from __future__ import annotations

from unlearn_core import NamedDataset

WMDP_FORGET = NamedDataset(
    "WMDP_forget", "wmdp", ("{data_split}-forget-corpus",), "documents", "the forget corpus of data_split"
)
WMDP_RETAIN = NamedDataset(
    "WMDP_retain", "wmdp", ("{data_split}-retain-corpus",), "documents", "the retain corpus of data_split"
)
DATASETS = (WMDP_FORGET, WMDP_RETAIN)

"""Named data sets: what ``data.forget=`` / ``data.retain=`` accept besides a benchmark's own split names.

A benchmark plugin registers one ``NamedDataset`` per name through ``register_datasets`` (the reference's dataset
config names, such as ``TOFU_QA_forget_para`` or ``MUSE_forget_scal``) and loads them itself; the core checks that
a name given for a run belongs to that run's benchmark, and ``unlearn list-plugins`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unlearn_core.errors import ConfigError

DATA_KEYS = ("forget", "retain")
"""The ``data.*`` keys that name data sets."""


@dataclass(frozen=True)
class NamedDataset:
    """A data set of ``benchmark`` that users can name in ``data.forget=`` and ``data.retain=``."""

    name: str
    benchmark: str
    description: str = ""


def check_dataset_names(cfg: dict[str, Any], datasets: Any) -> None:
    """A registered name given in ``data.forget``/``data.retain`` must be one of this benchmark's data sets; it is
    written back as registered (names match case-insensitively). Other names are left to the benchmark."""
    for key in DATA_KEYS:
        value = cfg["data"].get(key)
        if not isinstance(value, str) or value not in datasets:
            continue
        named: NamedDataset = datasets.get(value)
        if named.benchmark != cfg["benchmark"]:
            raise ConfigError(
                f"data.{key}={value} is a data set of benchmark '{named.benchmark}', and this run's benchmark is "
                f"'{cfg['benchmark']}'"
            )
        cfg["data"][key] = named.name

"""Where WMDP rows come from: the embedded generator, the hub (``data.source=cais/wmdp``) or a directory.

The toolkit's ``RowStore`` reads the embedded rows and directories; on the hub the corpora, the WMDP questions and
MMLU are three data sets, so ``hub_rows`` reads each address from its own (``schema.hub_location``).
"""

from __future__ import annotations

import os
from typing import Any

from unlearn_core import RowStore
from unlearn_wmdp.embedded import EMBEDDED_DEFAULTS, generate_wmdp
from unlearn_wmdp.schema import ADDRESSES, HUB_SOURCE, MMLU, fields, hub_location

EMBEDDED_SOURCE = "embedded"
STORE = RowStore("WMDP", fields, generate_wmdp, EMBEDDED_DEFAULTS, hub_ids=(HUB_SOURCE,), addresses=ADDRESSES)


def _hub_fields(location: str) -> dict[str, type]:
    """Fields of a hub ``config/split`` (MMLU's configuration is ``all``)."""
    config = location.split("/")[0]
    return fields(MMLU if config == "all" else config)


_HUB = RowStore(
    "WMDP",
    _hub_fields,
    lambda **_: {},
    {},
    hub_ids=tuple(dict.fromkeys(hub_location(a)[0] for a in ADDRESSES)),
)


def hub_rows(address: str) -> list[dict[str, Any]]:
    """The rows of ``address`` from the hub data set that holds it."""
    hub_id, config, split = hub_location(address)
    return _HUB.load(hub_id, f"{config}/{split}")


def write_wmdp_dir(splits: dict[str, list[dict[str, Any]]], path: str | os.PathLike[str]) -> None:
    """Write ``splits`` (address -> rows) as ``<path>/<address>.jsonl`` files that ``data.source=<path>`` reads."""
    STORE.write_dir(splits, path)

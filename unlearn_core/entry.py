"""The ``unlearn`` console script and ``python -m unlearn_core``: the command line, with garbage collection
deferred over start-up (``unlearn_core.gc_deferral``)."""

from __future__ import annotations

from unlearn_core.gc_deferral import defer_collection, freeze_survivors


def main() -> None:
    """Run the ``unlearn`` command line (``unlearn_core.cli.main``)."""
    defer_collection()
    try:
        from unlearn_core.cli import main as cli_main  # imported after deferral: its imports are start-up

        cli_main()
    finally:
        freeze_survivors()

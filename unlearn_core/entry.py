"""The ``unlearn`` console script and ``python -m unlearn_core``: the command line, with garbage collection
deferred over start-up (``unlearn_core.gc_deferral``) and the interpreter's teardown skipped at the end when
nobody could tell (``unlearn_core.process_exit``)."""

from __future__ import annotations

from unlearn_core.gc_deferral import defer_collection, freeze_survivors
from unlearn_core.process_exit import exit_process


def main() -> None:
    """Run the ``unlearn`` command line (``unlearn_core.cli.main``) and end the process with its status."""
    defer_collection()
    try:
        from unlearn_core.cli import main as cli_main  # imported after deferral: its imports are start-up

        cli_main()
    except SystemExit as stop:
        status = stop.code
    else:
        status = None
    finally:
        freeze_survivors()
    exit_process(status)

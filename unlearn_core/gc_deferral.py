"""Garbage collection deferred over a command's start-up, and skipped over what is still alive at its exit.

Importing torch and transformers and building a model create some hundreds of thousands of long-lived objects.
Python's cyclic collector makes full passes over all of them while they are being created, and again while the
interpreter shuts down, and finds next to nothing to free: on a 2-core CPU that is about a second and a half of an
``unlearn eval`` (``benchmarks/startup.py``). The command line therefore stops automatic collection first
(:func:`defer_collection`), and the first model load or embedded-model build turns it back on
(:func:`resume_collection`) after moving the objects alive then into the collector's permanent generation
(``gc.freeze``), which later passes skip. At exit :func:`freeze_survivors` does the same for everything still alive.
Objects are freed by reference counting all along; only cycles made during start-up wait (and stay: they are a
fixed, small amount). Nothing trains with collection deferred: a tiny model trained so came out with other floats
than the same training in a library process (memory is laid out otherwise), and the command line must give what the
library gives.

Library use is unaffected: nothing happens unless :func:`defer_collection` was called.
"""

from __future__ import annotations

import gc

_deferred = False


def defer_collection() -> None:
    """Stop automatic cyclic collection until :func:`resume_collection` (no-op when already disabled)."""
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def resume_collection() -> None:
    """Freeze the objects alive now and turn collection back on, if :func:`defer_collection` stopped it."""
    global _deferred
    if _deferred:
        gc.freeze()
        gc.enable()
        _deferred = False


def freeze_survivors() -> None:
    """Move every object alive now to the permanent generation, so that shutdown's collections skip them."""
    gc.freeze()

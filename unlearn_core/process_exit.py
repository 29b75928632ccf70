"""Ending the ``unlearn`` process without tearing the interpreter down.

When a command has finished, Python's own exit still dismantles every module and frees every object one by one:
after importing torch and transformers and loading a model that is some hundreds of thousands of objects, about
0.15 s on a 2-core CPU (``benchmarks/startup.py``), spent on memory the operating system reclaims at once anyway.
:func:`exit_process` does what that exit does that anyone can observe and then ends the process:

- the exit handlers run (``atexit``: logging's flush, ``weakref.finalize`` clean-ups, trackers' own hooks);
- Python's and C's standard streams are flushed;
- the exit status is the one asked for.

It falls back to Python's ordinary exit (raising ``SystemExit``) whenever skipping the teardown could be noticed:
another non-daemon thread is running (Python would wait for it), a profiler or tracer is attached (it reports at
teardown), the call is not on the main thread, a ``torch.distributed`` process group is still up, or the status is
a message rather than a number. Files are written whole and closed by the code that writes them (atomic writes,
``JsonlLog``), so nothing waits on a finaliser.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def _flush_c_streams() -> None:
    """Flush C's stdio buffers (text printed by compiled extensions), as the C runtime's own exit does."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):
        pass


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _distributed_is_up() -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    distributed = getattr(torch, "distributed", None)
    try:
        return bool(distributed is not None and distributed.is_available() and distributed.is_initialized())
    except (AttributeError, RuntimeError):
        return True


def teardown_can_be_skipped() -> bool:
    """Whether ending the process now would look, from outside, like Python's ordinary exit."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    return (
        threading.current_thread() is threading.main_thread()
        and not others
        and sys.gettrace() is None
        and sys.getprofile() is None
        and not _distributed_is_up()
    )


def exit_process(code: object) -> NoReturn:
    """End the process with ``code`` (a ``SystemExit`` code): run the exit handlers, flush the streams and leave
    without the interpreter's teardown when :func:`teardown_can_be_skipped`; otherwise exit the ordinary way."""
    status = 0 if code is None else code
    if not isinstance(status, int) or isinstance(status, bool) or not teardown_can_be_skipped():
        raise SystemExit(code)
    atexit._run_exitfuncs()  # the handlers Python's exit would run (none twice: os._exit follows)
    _flush_python_streams()
    _flush_c_streams()
    os._exit(status & 0xFF)

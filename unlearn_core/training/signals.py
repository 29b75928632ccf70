"""SIGINT/SIGTERM during training: finish the current optimizer step, checkpoint, exit 130/143 with a resume hint."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from unlearn_core.errors import TrainingError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    """``SIGINT``/``SIGTERM`` for a signal number."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Aborted(KeyboardInterrupt):
    """Stop at once (a second signal, or a signal where no checkpoint can be written); exit 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum
        self.exit_code = 128 + signum


class TrainingInterrupted(TrainingError):
    """A run stopped by SIGINT/SIGTERM after writing a checkpoint; exit code 130 (SIGINT) or 143 (SIGTERM)."""

    def __init__(self, signum: int, step: int, total: int, checkpoint: Path | None) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum
        self.exit_code = 128 + signum
        self.step, self.total, self.checkpoint = step, total, checkpoint
        self.resume_command: str | None = None

    def __str__(self) -> str:
        saved = f"checkpoint saved: {self.checkpoint}" if self.checkpoint else "no checkpoint could be written"
        how = (
            f"resume with: {self.resume_command}"
            if self.resume_command
            else "resume by running the same command with --resume (Python: execute(..., resume=True))"
        )
        return f"stopped by {signal_name(self.signum)} after step {self.step} of {self.total}; {saved}; {how}"


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class StopRequest:
    """While active, a first SIGINT/SIGTERM only records the signal and the loop stops at the next step boundary.

    A second signal aborts at once (``Aborted``); so does the first when ``graceful`` is false (nothing to save).
    Handlers are installed only in the main thread (Python delivers signals there) and restored on exit.
    """

    def __init__(self, graceful: bool) -> None:
        self.graceful = graceful
        self.signum: int | None = None
        self.handled = False
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once a stop signal arrived."""
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None or not self.graceful:
            raise Aborted(signum)
        self.signum = signum
        if os.environ.get("RANK", "0") != "0":
            return  # a launcher signals every process; process 0 says it once
        print(
            f"\n{signal_name(signum)} received: stopping after the current optimizer step and writing a checkpoint "
            "(send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> StopRequest:
        if _in_main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        if exc_type is None and self.signum is not None and not self.handled:
            raise Aborted(self.signum)


def _raise_aborted(signum: int, frame: FrameType | None) -> None:
    raise Aborted(signum)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Outside training, SIGTERM unwinds like Ctrl-C (``finally`` blocks remove temporary files), exit code 143."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_aborted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""Progress of long phases (model builds, training, evaluation, generation), the same way everywhere.

On a terminal a phase shows a tqdm bar with its rate and ETA. Anywhere else (a log file, a pipe, CI) a bar redrawn
with carriage returns becomes one line per update, hundreds of kilobytes for one run; there a phase writes at most one
line per ``LINE_INTERVAL`` seconds and per ``LINE_FRACTION`` of its work, then one line when it ends. Only the local
main process of a multi-process run reports. ``UNLEARN_PROGRESS=bar|lines|off`` chooses the form.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

MODE_ENV = "UNLEARN_PROGRESS"
MODES = ("bar", "lines", "off")
LINE_INTERVAL = 30.0
"""Seconds between two progress lines of one phase when stderr is not a terminal."""
LINE_FRACTION = 0.1
"""Share of a phase's work between two progress lines: at most ten lines before the final one."""


def progress_mode() -> str:
    """``bar`` on a terminal, ``lines`` otherwise, or what ``UNLEARN_PROGRESS`` asks for."""
    asked = os.environ.get(MODE_ENV, "").strip().lower()
    if asked in MODES:
        return asked
    try:
        return "bar" if sys.stderr.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return "lines"


def plural(unit: str) -> str:
    """``step`` -> ``steps``, ``entry`` -> ``entries``."""
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """One phase of ``total`` units: ``update(n)`` as work is done, ``note(key=value)`` for what to show beside it.

    A context manager; on leaving it the phase ends with one line (``stopped after`` when an exception leaves it).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        unit: str = "step",
        initial: int = 0,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit, self.n = max(0, int(total)), desc, unit, initial
        local_main = os.environ.get("LOCAL_RANK", "0") == "0"
        self.mode = progress_mode() if enabled and local_main and self.total > 0 else "off"
        self.notes: dict[str, Any] = {}
        self._clock = clock
        self._start = self._last_time = clock()
        self._initial = self._last_n = initial
        self._bar: Any = None
        self._closed = False
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, file=sys.stderr
            )

    def note(self, **values: Any) -> None:
        """Values shown beside the count (the loss, the current entry); they never force a redraw."""
        self.notes.update(values)
        if self._bar is not None:
            self._bar.set_postfix({k: _show(v) for k, v in self.notes.items()}, refresh=False)

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines":
            now = self._clock()
            due = now - self._last_time >= LINE_INTERVAL and self.n - self._last_n >= self.total * LINE_FRACTION
            if due and self.n < self.total:
                self._line(self._running_text(now))
                self._last_time, self._last_n = now, self.n

    def close(self, stopped: bool = False) -> None:
        """End the phase: the bar stays as it is; in lines mode one final line."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "lines":
            verb = "stopped after" if stopped else "done,"
            elapsed = duration(self._clock() - self._start)
            done = f"{self.n}/{self.total} {plural(self.unit)}"
            self._line(f"{self.desc}: {verb} {done} in {elapsed}{self._notes_text()}")

    def _running_text(self, now: float) -> str:
        elapsed = now - self._start
        done = self.n - self._initial
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        eta = f", about {duration((self.total - self.n) / rate)} left" if rate else ""
        percent = 100.0 * self.n / self.total
        return (
            f"{self.desc}: {self.n}/{self.total} {plural(self.unit)} ({percent:.0f}%), {duration(elapsed)} elapsed"
            f"{eta}{self._notes_text()}"
        )

    def _notes_text(self) -> str:
        return "".join(f", {k}={_show(v)}" for k, v in self.notes.items())

    @staticmethod
    def _line(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close(stopped=kind is not None)


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

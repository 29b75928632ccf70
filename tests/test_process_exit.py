"""Ending the process without the interpreter's teardown (unlearn_core.process_exit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from unlearn_core import process_exit

SCRIPT = """
import atexit, ctypes, sys, threading, time
from unlearn_core.process_exit import exit_process

class Noisy:
    def __del__(self):
        sys.__stdout__.write("torn down\\n")

kept = Noisy()  # a module global: only the interpreter's teardown deletes it
atexit.register(lambda: open(sys.argv[1], "w").write("handlers ran"))
print("python text without a newline", end="")
ctypes.CDLL(None).printf(b" and C text\\n")
if sys.argv[2] == "thread":
    threading.Thread(target=time.sleep, args=(0.3,)).start()
exit_process(int(sys.argv[3]))
"""


def _run(tmp_path, mode: str, code: int = 3) -> subprocess.CompletedProcess:
    script = tmp_path / "leave.py"
    script.write_text(textwrap.dedent(SCRIPT))
    marker = tmp_path / "atexit.txt"
    return subprocess.run([sys.executable, str(script), str(marker), mode, str(code)], capture_output=True, text=True)


def test_leaves_without_teardown_after_running_handlers_and_flushing(tmp_path):
    done = _run(tmp_path, "alone")
    assert done.returncode == 3
    assert done.stdout == "python text without a newline and C text\n"  # no "torn down": the teardown was skipped
    assert (tmp_path / "atexit.txt").read_text() == "handlers ran"


def test_a_running_thread_makes_it_exit_the_ordinary_way(tmp_path):
    done = _run(tmp_path, "thread", code=5)
    assert done.returncode == 5
    assert done.stdout.endswith("torn down\n")
    assert (tmp_path / "atexit.txt").read_text() == "handlers ran"


def test_a_message_status_exits_the_ordinary_way():
    with pytest.raises(SystemExit) as stop:
        process_exit.exit_process("Error: something")
    assert stop.value.code == "Error: something"


@pytest.fixture
def untraced(monkeypatch):
    """As in a plain run: no tracer or profiler (pytest's coverage plugins may have one attached)."""
    monkeypatch.setattr(sys, "gettrace", lambda: None)
    monkeypatch.setattr(sys, "getprofile", lambda: None)


def test_skipping_is_refused_while_another_thread_runs(untraced):
    assert process_exit.teardown_can_be_skipped()
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert not process_exit.teardown_can_be_skipped()
    finally:
        release.set()
        worker.join()
    daemon = threading.Thread(target=release.wait, daemon=True)  # set already: ends at once; a daemon never counts
    daemon.start()
    assert process_exit.teardown_can_be_skipped()


def test_skipping_is_refused_under_a_profiler_or_tracer(monkeypatch, untraced):
    monkeypatch.setattr(sys, "getprofile", lambda: object())
    assert not process_exit.teardown_can_be_skipped()
    monkeypatch.setattr(sys, "getprofile", lambda: None)
    monkeypatch.setattr(sys, "gettrace", lambda: object())
    assert not process_exit.teardown_can_be_skipped()


def test_skipping_is_refused_off_the_main_thread(untraced):
    seen = []
    worker = threading.Thread(target=lambda: seen.append(process_exit.teardown_can_be_skipped()))
    worker.start()
    worker.join()
    assert seen == [False]


def test_skipping_is_refused_while_a_process_group_is_up(monkeypatch, untraced):
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    assert not process_exit.teardown_can_be_skipped()

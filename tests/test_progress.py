"""Progress of long phases: a bar on a terminal, a bounded number of plain lines anywhere else."""

from __future__ import annotations

import pytest

from unlearn_core import progress
from unlearn_core.progress import LINE_INTERVAL, Progress, duration, progress_mode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Captured:
    """What the phases write to stderr (pytest's capture, which is not a terminal)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def getvalue(self) -> str:
        self.text += self.capsys.readouterr().err
        return self.text


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Captured:
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    return Captured(capsys)


def test_without_a_terminal_a_long_phase_writes_a_few_lines_and_no_carriage_return(stderr):
    clock = Clock()
    with Progress(10_000, "unlearn tofu with NPO", clock=clock) as bar:
        for _ in range(10_000):
            clock.now += 1.0  # ~2.8 hours: 333 intervals of 30 s, yet at most one line per tenth of the work
            bar.update()
            bar.note(loss=0.5)
    lines = stderr.getvalue().splitlines()
    assert "\r" not in stderr.getvalue()
    assert 2 <= len(lines) <= 11
    assert lines[0].startswith("unlearn tofu with NPO: 1000/10000 steps (10%), 16m40s elapsed, about 2h30m left")
    assert lines[-1] == "unlearn tofu with NPO: done, 10000/10000 steps in 2h46m, loss=0.5"


def test_a_short_phase_writes_one_line_and_a_stopped_phase_says_so(stderr):
    clock = Clock()
    with Progress(50, "evaluate tofu", unit="entry", clock=clock) as bar:
        for _ in range(50):
            clock.now += LINE_INTERVAL / 100
            bar.update()
    with pytest.raises(KeyboardInterrupt), Progress(8, "generate tofu", unit="prompt", clock=clock) as bar:
        bar.update(3)
        raise KeyboardInterrupt
    assert stderr.getvalue().splitlines() == [
        "evaluate tofu: done, 50/50 entries in 15s",
        "generate tofu: stopped after 3/8 prompts in 0s",
    ]


def test_off_and_empty_phases_and_other_processes_write_nothing(stderr, monkeypatch):
    with Progress(0, "nothing to do") as bar:
        bar.update(0)
    with Progress(5, "disabled", enabled=False) as bar:
        bar.update(5)
    monkeypatch.setenv("LOCAL_RANK", "1")
    with Progress(5, "process 1") as bar:
        bar.update(5)
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv(progress.MODE_ENV, "off")
    with Progress(5, "asked off") as bar:
        bar.update(5)
    assert stderr.getvalue() == ""


def test_the_mode_follows_the_terminal_unless_asked(stderr, monkeypatch):
    assert progress_mode() == "lines"
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    assert progress_mode() == "bar"
    monkeypatch.setenv(progress.MODE_ENV, "lines")
    assert progress_mode() == "lines"


def test_on_a_terminal_the_bar_shows_rate_and_eta(stderr, monkeypatch):
    monkeypatch.setenv(progress.MODE_ENV, "bar")
    with Progress(4, "unlearn", unit="step") as bar:
        bar.note(loss=1.25)
        bar.update(4)
    shown = stderr.getvalue()
    assert "unlearn" in shown and "4/4" in shown and "step/s" in shown and "loss=1.25" in shown


def test_durations_read_like_a_clock():
    assert [duration(s) for s in (0.4, 42, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]

"""Garbage collection deferred over the command line's start-up (unlearn_core.gc_deferral, unlearn_core.entry)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from unlearn_core import entry, gc_deferral


@pytest.fixture
def collector():
    """Restore the collector's state and the module's flag after each test."""
    enabled = gc.isenabled()
    yield
    gc_deferral._deferred = False
    gc.unfreeze()
    gc.enable() if enabled else gc.disable()


def test_defer_then_resume_freezes_what_is_alive(collector):
    gc.enable()
    gc_deferral.defer_collection()
    assert not gc.isenabled()
    alive = [[i] for i in range(100)]  # made while deferred
    before = gc.get_freeze_count()
    gc_deferral.resume_collection()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(alive)
    gc_deferral.resume_collection()  # a second load changes nothing
    assert gc.isenabled()


def test_resume_without_deferral_leaves_the_collector_alone(collector):
    gc.disable()  # a library user's own choice
    gc_deferral.resume_collection()
    assert not gc.isenabled()
    gc.enable()
    before = gc.get_freeze_count()
    gc_deferral.resume_collection()
    assert gc.isenabled() and gc.get_freeze_count() == before


def test_defer_keeps_a_collector_already_disabled_disabled(collector):
    gc.disable()
    gc_deferral.defer_collection()
    gc_deferral.resume_collection()
    assert not gc.isenabled()


def test_entry_runs_the_command_line_and_freezes_at_exit(collector, monkeypatch):
    seen = {}

    def fake_cli_main():
        seen["enabled"] = gc.isenabled()
        raise SystemExit(3)

    def ending(code):
        seen["frozen at the end"] = gc.get_freeze_count() > 0
        raise SystemExit(code)

    monkeypatch.setattr("unlearn_core.cli.main", fake_cli_main)
    monkeypatch.setattr(entry, "exit_process", ending)  # the real one would end pytest's process
    gc.enable()
    with pytest.raises(SystemExit) as exit_info:
        entry.main()
    assert exit_info.value.code == 3
    assert seen == {"enabled": False, "frozen at the end": True}


def test_model_load_resumes_collection(collector, tmp_path):
    from support.tiny_setup import tiny_model_and_tokenizer

    from unlearn_core.pipeline.models import load_model_and_tokenizer

    model, tokenizer = tiny_model_and_tokenizer(["a small corpus of words", "for the tokenizer"])
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    gc.enable()
    gc_deferral.defer_collection()
    cfg = {"model": {"model_args": {}, "tokenizer_args": {}}}
    load_model_and_tokenizer(cfg, str(tmp_path))
    assert gc.isenabled()


def test_console_script_points_at_the_entry():
    scripts = (Path(__file__).parents[1] / "pyproject.toml").read_text().split("[project.scripts]")[1]
    assert scripts.split("[")[0].strip() == 'unlearn = "unlearn_core.entry:main"'


def test_python_m_runs_through_the_entry():
    done = subprocess.run([sys.executable, "-m", "unlearn_core", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "unlearn" in done.stdout


def test_building_an_embedded_model_resumes_collection(collector, tmp_path):
    # training under a deferred collector gave other floats than the library (memory laid out otherwise), so every
    # build starts with the collector on, as in-process use has it
    from unlearn_core.pipeline.embedded import EmbeddedBuilder

    builder = EmbeddedBuilder.__new__(EmbeddedBuilder)  # only its cache root matters here
    builder.root = tmp_path
    seen = {}
    gc.enable()
    gc_deferral.defer_collection()
    builder._build_entry("base", "k", lambda out: seen.setdefault("enabled", gc.isenabled()))
    assert seen == {"enabled": True}
    assert (tmp_path / "base-k" / ".complete").exists()

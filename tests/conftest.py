"""Fixtures of the suites that run the real pipeline in this process (fault injection, sweeps and comparisons): one
embedded cache for the session, isolated working directories."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from unlearn_core.plugins import DISABLE_ENV

sys.path.insert(0, str(Path(__file__).parent / "faults"))  # faultkit: the tiny settings, shared with the fault suite
from faultkit import TINY  # noqa: E402


@pytest.fixture(scope="session")
def embedded_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the tiny embedded models once (in this process) for every test that runs the real pipeline."""
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation
    from unlearn_core.plugins import load_plugins

    cache = tmp_path_factory.mktemp("fault-cache")
    saved = os.environ.get("UNLEARN_CACHE_DIR")
    os.environ["UNLEARN_CACHE_DIR"] = str(cache)
    try:
        plugins = load_plugins()
        plan_evaluation(
            resolve_config("unlearn", plugins, benchmark="tofu", method="npo", overrides=TINY), plugins, "tofu"
        )
    finally:
        if saved is None:
            os.environ.pop("UNLEARN_CACHE_DIR", None)
        else:
            os.environ["UNLEARN_CACHE_DIR"] = saved
    return cache


@pytest.fixture(scope="session")
def offline_dir(embedded_cache: Path) -> Callable[[Path], AbstractContextManager[Path]]:
    """``with offline_dir(root):`` work in ``root``, offline, with the session's embedded models (for fixtures that
    outlive one test)."""

    @contextmanager
    def enter(root: Path) -> Iterator[Path]:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(root)
            patch.setenv("UNLEARN_CACHE_DIR", str(embedded_cache))
            patch.setenv("HF_HUB_OFFLINE", "1")
            patch.setenv("TRANSFORMERS_OFFLINE", "1")
            patch.delenv(DISABLE_ENV, raising=False)
            yield root

    return enter


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own directory, offline, with every plugin enabled."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return tmp_path


@pytest.fixture
def cached_workdir(workdir: Path, embedded_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose runs reuse the session's embedded models."""
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(embedded_cache))
    return workdir

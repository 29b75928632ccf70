"""Fixtures of the method-contract tests: plugins with the test methods, each test in its own directory (the
embedded models come from the session-wide ``embedded_cache`` of ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import contract_methods
import pytest

from unlearn_core.plugins import DISABLE_ENV, Plugins, load_plugins


@pytest.fixture
def workdir(tmp_path: Path, embedded_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in its own directory, offline, reusing the session's embedded models."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(embedded_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """Every installed plugin plus the test methods."""
    return load_plugins(extra=[contract_methods])

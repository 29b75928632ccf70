"""Fixtures of the method-contract tests: one embedded cache for the session, plugins with the test methods."""

from __future__ import annotations

import os
from pathlib import Path

import contract_methods
import pytest
from contractkit import TINY

from unlearn_core.plugins import DISABLE_ENV, Plugins, load_plugins


@pytest.fixture(scope="session")
def embedded_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the tiny embedded models once for every test of this directory."""
    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation

    cache = tmp_path_factory.mktemp("contract-cache")
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

"""Test-wide safety net: every test runs with a private cache dir and no route to the outside world."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole run (the advisory index is built once); tests needing a pristine cache
    set ``MLAUDIT_CACHE_DIR`` to their own ``tmp_path``."""
    return tmp_path_factory.mktemp("mlaudit-cache")


@pytest.fixture(autouse=True)
def _isolated_env(session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cache = session_cache
    monkeypatch.setenv("MLAUDIT_CACHE_DIR", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("MLAUDIT_OSV_API", "MLAUDIT_OSV_URL", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the checkout")
    return SHARED

"""Shared helpers for output tests: a pinned tool version (goldens must not churn on releases) and golden files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
TEST_VERSION = "0.0.0-test"


@pytest.fixture(autouse=True)
def _pinned_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every renderer imports ``__version__`` by name; pin it so goldens and serial numbers are release-proof."""
    import auditor.outputs.cyclonedx as cdx
    import auditor.outputs.html as html
    import auditor.outputs.markdown as md
    import auditor.outputs.sarif as sarif

    for module in (cdx, html, md, sarif):
        monkeypatch.setattr(module, "__version__", TEST_VERSION)


def check_golden(name: str, text: str) -> None:
    """Compare with ``golden/<name>``; ``MLAUDIT_UPDATE_GOLDEN=1`` rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get("MLAUDIT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"golden file {name} missing: run with MLAUDIT_UPDATE_GOLDEN=1 and review the result")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file (MLAUDIT_UPDATE_GOLDEN=1 to accept changes)"

"""Helpers for the source tests: write an input file, load it the way the pipeline does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.options import AuditOptions
from auditor.sources import load_inputs
from auditor.sources.base import SourceResult

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lockfiles"

Load = Callable[..., SourceResult]


@pytest.fixture
def load() -> Load:
    """``load(path_or_paths, **options)`` -> the merged ``SourceResult``."""

    def run(paths: str | Path | list[str | Path], **options: object) -> SourceResult:
        items = paths if isinstance(paths, list) else [paths]
        return load_inputs([str(p) for p in items], AuditOptions(**options))  # type: ignore[arg-type]

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """``write(relative_name, text_or_bytes)`` inside the test's tmp dir; returns the path."""

    def put(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return put

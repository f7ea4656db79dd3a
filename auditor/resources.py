"""Locate the files that ship with mlaudit (``data/``, ``templates/``).

In a wheel they live inside the package (``auditor/_data``, ``auditor/_templates``, mapped by pyproject's
force-include); in a source checkout or editable install they are the top-level folders. Callers never care which.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def data_dir() -> Path:
    return _first_existing(_PKG / "_data", _PKG.parent / "data")


def templates_dir() -> Path:
    return _first_existing(_PKG / "_templates", _PKG.parent / "templates")


def data_file(*parts: str) -> Path:
    return data_dir().joinpath(*parts)

"""One walk over a project tree for every stage that looks for files (model references, weights, signatures).

The project's own files only: version-control metadata, tool caches and installed environments (a venv or conda
prefix inside the project) are pruned, so an audit never wanders into site-packages or a checkout's ``.git``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from auditor.cache import cache_root

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "node_modules", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".venv", "venv", ".eggs", "site-packages", "dist-packages", ".ipynb_checkpoints", ".cache",
    ".idea", ".vscode",
})


def is_venv(names: list[str]) -> bool:
    """A virtualenv or conda prefix: installed packages, not the project's own files."""
    return "pyvenv.cfg" in names or "conda-meta" in names


def walk_project(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(directory, its file names) top-down in a stable order; ``root`` itself is never pruned.

    mlaudit's own cache (advisory index, resolver cache) is pruned when it sits inside the project, recognised by
    its path, never by a marker file: a project must not be able to hide its own files from the audit."""
    own_cache = os.path.realpath(cache_root())
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath != str(root) and (is_venv(filenames + dirnames) or os.path.realpath(dirpath) == own_cache):
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        yield Path(dirpath), sorted(filenames)

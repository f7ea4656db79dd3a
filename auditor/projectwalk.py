"""One walk over a project tree for every stage that looks for files (model references, weights, signatures).

The project's own files only: version-control metadata, tool caches and installed environments (a venv or conda
prefix inside the project) are pruned, so an audit never wanders into site-packages or a checkout's ``.git``.

Paths the user excludes (``exclude = ["tests/**"]`` in the policy, ``--exclude GLOB``) are left out here, once,
for every stage. Patterns follow ``.gitignore`` rules (``pathspec``), relative to the project root: ``tests/`` or
``tests/**`` a directory, ``*.ipynb`` a file name anywhere, ``/examples/`` only at the root. What a pattern left
out is kept in ``PathFilter.excluded`` so that the report can list it (an excluded path is never silently gone).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from auditor.cache import cache_root

SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "node_modules", "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".venv", "venv", ".eggs", "site-packages", "dist-packages", ".ipynb_checkpoints", ".cache",
    ".idea", ".vscode",
})


@dataclass
class PathFilter:
    """User exclusions for one walk. ``excluded`` holds (relative path, pattern) of what was left out: a pruned
    directory once (with a trailing ``/``), not each file in it."""

    patterns: tuple[str, ...] = ()
    excluded: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)
        self._each = [(p, pathspec.GitIgnoreSpec.from_lines([p])) for p in self.patterns]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> PathFilter:
        return cls(tuple(p.strip() for p in patterns if p and p.strip()))

    def leaves_out(self, rel: str, is_dir: bool) -> bool:
        """True (and recorded) when the user's patterns exclude ``rel`` (posix, relative to the root)."""
        if not self.patterns:
            return False
        probe = rel + "/" if is_dir else rel
        if not self._spec.match_file(probe):
            return False
        pattern = next((p for p, spec in self._each if spec.match_file(probe)), self.patterns[0])
        self.excluded.append((probe, pattern))
        return True


def is_venv(names: list[str]) -> bool:
    """A virtualenv or conda prefix: installed packages, not the project's own files."""
    return "pyvenv.cfg" in names or "conda-meta" in names


def walk_project(root: Path, exclude: PathFilter | None = None) -> Iterator[tuple[Path, list[str]]]:
    """(directory, its file names) top-down in a stable order; ``root`` itself is never pruned.

    mlaudit's own cache (advisory index, resolver cache) is pruned when it sits inside the project, recognised by
    its path, never by a marker file: a project must not be able to hide its own files from the audit."""
    own_cache = os.path.realpath(cache_root())
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath != str(root) and (is_venv(filenames + dirnames) or os.path.realpath(dirpath) == own_cache):
            dirnames[:] = []
            continue
        base = Path(dirpath)
        kept = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        names = sorted(filenames)
        if exclude is not None and exclude.patterns:
            rel = base.relative_to(root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            kept = [d for d in kept if not exclude.leaves_out(prefix + d, True)]
            names = [n for n in names if not exclude.leaves_out(prefix + n, False)]
        dirnames[:] = kept
        yield base, names


__all__ = ["PathFilter", "SKIP_DIRS", "is_venv", "walk_project"]

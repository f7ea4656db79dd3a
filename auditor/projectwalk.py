"""One walk over a file tree for every stage that looks for files (model references, weights, signatures, fleet
keys, ``mlaudit scan DIR``), with one rule: everything the walk finds ends up walked, or listed as a gap.

Why one rule: a walk that drops what it does not like (a folder it prunes, a directory it cannot list, a FIFO, a
link it does not follow) turns a hiding place into a silent "no findings". So every entry the walk meets is one of

- a regular file (a link to one included): handed to the stage;
- a directory walked, symbolic links to directories included: followed once, with a loop guard on the directory's
  identity (device, inode); a second way into a directory already walked is listed as excluded (its files are
  listed under their first path); a link that leaves the tree is followed and said in ``notes``;
- a ``Gap``: excluded (a folder a project audit leaves out by default, a path the user's patterns exclude,
  mlaudit's own cache) or skipped (a directory that cannot be listed, an entry that cannot be looked at, a
  FIFO/socket/device or a link to one, a broken link or a link loop), each with its reason.

Two modes. A *project* walk (``prune_defaults=True``, the audit of a project) leaves out version-control metadata,
tool caches, ``node_modules`` and installed environments (a venv or conda prefix inside the project): they are
listed as excluded, never searched. An *explicit* walk (``mlaudit scan DIR``) looks inside all of them: the user
named the folder. mlaudit's own cache is left out in both, recognised by its path, never by a marker file: a
project must not be able to hide its own files from the audit.

Paths the user excludes (``exclude = ["tests/**"]`` in the policy, ``--exclude GLOB``) follow ``.gitignore`` rules
(``pathspec``), relative to the walk's root: ``tests/`` or ``tests/**`` a directory, ``*.ipynb`` a file name
anywhere, ``/examples/`` only at the root. What a pattern left out is kept in ``PathFilter.excluded`` and is a gap.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

from auditor.cache import cache_root
from auditor.domain import Excluded, Skipped
from auditor.ledger import Item, ItemKind

# Folders a project audit leaves out by default, and why (the reason is shown in the report's excluded list).
DEFAULT_EXCLUDED: dict[str, str] = {
    ".git": "version-control metadata", ".hg": "version-control metadata", ".svn": "version-control metadata",
    ".bzr": "version-control metadata", "node_modules": "JavaScript packages", "__pycache__": "Python bytecode cache",
    ".tox": "a tox environment folder", ".nox": "a nox environment folder", ".mypy_cache": "a tool cache",
    ".pytest_cache": "a tool cache", ".ruff_cache": "a tool cache", ".venv": "a virtual environment",
    "venv": "a virtual environment", ".eggs": "build eggs", "site-packages": "installed packages",
    "dist-packages": "installed packages", ".ipynb_checkpoints": "notebook checkpoints", ".cache": "a cache folder",
    ".idea": "editor settings", ".vscode": "editor settings",
}
SKIP_DIRS = frozenset(DEFAULT_EXCLUDED)
_SPECIAL = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device"}


@dataclass
class PathFilter:
    """User exclusions for one walk. ``excluded`` holds (relative path, pattern) of what was left out: a pruned
    directory once (with a trailing ``/``), not each file in it."""

    patterns: tuple[str, ...] = ()
    excluded: list[tuple[str, str]] = field(default_factory=list)
    # Patterns from the audited project's own policy: what they leave out is a gap (skipped), not a choice of the
    # caller's (excluded); ``source`` names that policy file.
    unaccepted: frozenset[str] = frozenset()
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.patterns:  # no pattern: nothing to compile (and pathspec stays unimported)
            self._spec: pathspec.GitIgnoreSpec | None = None
            self._each: list[tuple[str, pathspec.GitIgnoreSpec]] = []
            return
        import pathspec

        self._spec = pathspec.GitIgnoreSpec.from_lines(self.patterns)
        self._each = [(p, pathspec.GitIgnoreSpec.from_lines([p])) for p in self.patterns]

    @classmethod
    def of(cls, patterns: Iterable[str], unaccepted: Iterable[str] = (), source: str | None = None) -> PathFilter:
        return cls(tuple(p.strip() for p in patterns if p and p.strip()),
                   unaccepted=frozenset(p.strip() for p in unaccepted if p and p.strip()), source=source)

    def pattern_for(self, rel: str, is_dir: bool) -> str | None:
        """The pattern that excludes ``rel`` (posix, relative to the root), or None."""
        if self._spec is None:
            return None
        probe = rel + "/" if is_dir else rel
        if not self._spec.match_file(probe):
            return None
        return next((p for p, spec in self._each if spec.match_file(probe)), self.patterns[0])

    def leaves_out(self, rel: str, is_dir: bool) -> bool:
        """True (and recorded) when the user's patterns exclude ``rel`` (posix, relative to the root)."""
        pattern = self.pattern_for(rel, is_dir)
        if pattern is None:
            return False
        self.excluded.append((rel + "/" if is_dir else rel, pattern))
        return True


@dataclass(frozen=True)
class Gap:
    """An entry the walk did not hand on: ``path`` as reached from the root (a directory ends with ``/`` in
    ``shown``), ``excluded`` (left out on purpose, listed) or skipped (could not be looked at), and why."""

    path: Path
    rel: str  # posix, relative to the root; "." for the root itself
    is_dir: bool
    excluded: bool
    reason: str

    @property
    def shown(self) -> str:
        return str(self.path) + ("/" if self.is_dir else "")


def is_venv(names: Iterable[str]) -> bool:
    """A virtualenv or conda prefix: installed packages, not the project's own files."""
    found = set(names)
    return "pyvenv.cfg" in found or "conda-meta" in found


@dataclass
class TreeWalk:
    """Iterate to get ``(directory, its regular file names)`` top-down in a stable (sorted) order; afterwards
    ``gaps`` lists every entry not handed on and ``notes`` the links followed out of the tree. ``root`` itself is
    never pruned."""

    root: Path
    exclude: PathFilter | None = None
    prune_defaults: bool = True
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _own_cache: tuple[int, int] | None = field(default=None, init=False, repr=False)

    def __iter__(self) -> Iterator[tuple[Path, list[str]]]:
        root = Path(self.root)
        try:
            mine = os.stat(cache_root())
            self._own_cache = (mine.st_dev, mine.st_ino)
        except (OSError, ValueError):
            self._own_cache = None
        try:
            real_root = os.path.realpath(root)
            top = os.stat(root)
        except (OSError, ValueError) as exc:
            self._skip(root, ".", True, f"cannot look at the folder: {_why(exc)}")
            return
        visited = {(top.st_dev, top.st_ino): "."}
        stack: list[tuple[Path, str]] = [(root, ".")]
        links: list[tuple[Path, str]] = []  # linked folders, followed after the real tree: real paths name files
        while stack or links:
            if not stack:
                path, child = links.pop(0)
                if self._enter(path, child, visited):
                    target = os.path.realpath(path)
                    if not _inside(target, real_root):
                        self.notes.append(f"{path} -> {target}: a link to a folder outside {root}, followed")
                    stack.append((path, child))
                continue
            base, rel = stack.pop()
            try:
                with os.scandir(base) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self._skip(base, rel, True, f"cannot list the folder: {_why(exc)}; nothing in it was looked at")
                continue
            if rel != "." and self.prune_defaults and is_venv(e.name for e in entries):
                self._exclude(base, rel, True, "an installed environment (pyvenv.cfg or conda-meta), left out of a "
                                               "project audit by default (audit it with --env; `mlaudit scan` looks "
                                               "inside)")
                continue
            prefix = "" if rel == "." else rel + "/"
            files: list[str] = []
            dirs: list[tuple[Path, str]] = []
            filtering = self.exclude is not None and bool(self.exclude.patterns)
            for entry in entries:
                name = entry.name
                try:  # the common case from the directory entry's type alone: no stat, no Path
                    if not filtering and entry.is_file(follow_symlinks=False):
                        files.append(name)
                        continue
                except OSError:
                    pass
                path = base / name
                child = prefix + name
                kind = self._classify(entry, path, child)
                if kind is None:
                    continue
                if kind == "file":
                    if not self._user_excluded(path, child, False):
                        files.append(name)
                elif not self._pruned(entry, path, child):
                    if entry.is_symlink():
                        links.append((path, child))
                    elif self._enter(path, child, visited):
                        dirs.append((path, child))
            yield base, files
            stack.extend(reversed(dirs))

    def _enter(self, path: Path, rel: str, visited: dict[tuple[int, int], str]) -> bool:
        """True for a folder not walked yet (its identity recorded); a second way into one is listed."""
        try:
            st = os.stat(path)  # follows a link: the folder's own identity
        except OSError as exc:
            self._skip(path, rel, True, f"cannot look at the folder: {_why(exc)}")
            return False
        ident = (st.st_dev, st.st_ino)
        if ident == self._own_cache:
            self._exclude(path, rel, True, "mlaudit's own cache: not part of the project")
            return False
        first = visited.get(ident)
        if first is not None:
            self._exclude(path, rel, True, f"the same folder as {'the root' if first == '.' else first} (a link "
                                           "back into the tree or a second way to it): walked once, its files "
                                           "are listed under that path")
            return False
        visited[ident] = rel
        return True

    def _classify(self, entry: os.DirEntry[str], path: Path, rel: str) -> str | None:
        """``file``, ``dir``, or None after recording a gap (a special file, a broken link, an unreadable entry)."""
        link = False
        try:
            link = entry.is_symlink()
            if not link:
                if entry.is_file(follow_symlinks=False):
                    return "file"
                if entry.is_dir(follow_symlinks=False):
                    return "dir"
            mode = entry.stat().st_mode  # follows the link
        except OSError as exc:
            if link and isinstance(exc, FileNotFoundError):
                reason = f"a broken link (-> {_target(path)}): nothing to read"
            elif link and getattr(exc, "errno", None) == errno.ELOOP:
                reason = "a link loop: nothing to read"
            else:
                reason = f"cannot look at it: {_why(exc)}"
            if not self._user_excluded(path, rel, False):
                self._skip(path, rel, False, reason)
            return None
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "dir"
        what = _SPECIAL.get(stat.S_IFMT(mode), "an unknown file type")
        if link:
            what = f"a link to {what.removeprefix('a ').removeprefix('an ')} (-> {_target(path)})"
        if not self._user_excluded(path, rel, False):
            self._skip(path, rel, False, f"not a regular file ({what}): never read (it could block or never end)")
        return None

    def _pruned(self, entry: os.DirEntry[str], path: Path, rel: str) -> bool:
        name = entry.name
        if self._user_excluded(path, rel, True):
            return True
        if self.prune_defaults and (name in DEFAULT_EXCLUDED or name.endswith(".egg-info")):
            what = DEFAULT_EXCLUDED.get(name, "package build metadata")
            self._exclude(path, rel, True, f"{what}, left out of a project audit by default (`mlaudit scan` "
                                           "looks inside)")
            return True
        return False

    def _user_excluded(self, path: Path, rel: str, is_dir: bool) -> bool:
        if self.exclude is None or not self.exclude.patterns:
            return False
        pattern = self.exclude.pattern_for(rel, is_dir)
        if pattern is None:
            return False
        self.exclude.excluded.append((rel + "/" if is_dir else rel, pattern))
        if pattern in self.exclude.unaccepted:
            self._skip(path, rel, is_dir, f"excluded by the pattern {pattern!r} of the audited project's own policy "
                                          f"({self.exclude.source}); pass that file with --config to accept it")
        else:
            self._exclude(path, rel, is_dir, f"excluded by the pattern {pattern!r}")
        return True

    def _skip(self, path: Path, rel: str, is_dir: bool, reason: str) -> None:
        self.gaps.append(Gap(path, rel, is_dir, False, reason))

    def _exclude(self, path: Path, rel: str, is_dir: bool, reason: str) -> None:
        self.gaps.append(Gap(path, rel, is_dir, True, reason))


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _inside(target: str, root: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def gap_items(gaps: Iterable[Gap], kind: ItemKind, consequence: str, not_checked: Iterable[str] = ()) -> list[Item]:
    """Ledger items for a walk's gaps; ``consequence`` says what the stage therefore did not do (``not searched
    for model files``), ``not_checked`` names it for a skipped item's list."""
    items: list[Item] = []
    for gap in gaps:
        reason = f"{gap.reason}; {consequence}"
        if gap.excluded:
            items.append(Excluded(reason=reason, file=gap.shown, kind=kind))
        else:
            items.append(Skipped(reason=reason, file=gap.shown, kind=kind, not_checked=list(not_checked)))
    return items


def walk_project(root: Path, exclude: PathFilter | None = None) -> Iterator[tuple[Path, list[str]]]:
    """(directory, its regular file names) of a project walk (see ``TreeWalk``), for stages that only need the
    files; the stage that lists the gaps (the model-reference finder) runs its own ``TreeWalk``."""
    yield from TreeWalk(root, exclude)


__all__ = ["DEFAULT_EXCLUDED", "Gap", "gap_items", "PathFilter", "SKIP_DIRS", "TreeWalk", "is_venv", "walk_project"]

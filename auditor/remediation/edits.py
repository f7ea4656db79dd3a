"""File changes of a fix: a scratch copy to try them in, a unified diff to show them, one atomic step to write
them -- all of them or none.

Why a scratch copy: every change (a text edit, a ``uv lock`` run, a header command) is made and re-audited on a
copy of the inputs first; the user's files are touched only after the whole fix verified, so a failure at any
point leaves them exactly as they were.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


def read(path: Path) -> str:
    """A file's text with its line endings as they are (no newline translation)."""
    return path.read_bytes().decode("utf-8")


def write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


@dataclass
class FileChange:
    path: Path  # the user's file
    before: str
    after: str


class Scratch:
    """A temporary copy of some files under their common folder, same relative layout."""

    def __init__(self, files: Iterable[Path] = ()) -> None:
        # every absolute path has its place under the scratch root, so files can be added as they are found
        # (a header command's ``.in`` files, a workspace member) and relative paths between them still hold
        self.root = Path(tempfile.mkdtemp(prefix="mlaudit-fix-"))
        self.copied: dict[Path, Path] = {}
        for path in files:
            self.copy(path)

    def path(self, original: Path) -> Path:
        resolved = original.resolve()
        return self.root / resolved.relative_to(resolved.anchor)

    def copy(self, original: Path) -> Path:
        original = original.resolve()
        target = self.path(original)
        if original not in self.copied and original.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(original, target)
            self.copied[original] = target
        return target

    def changes(self) -> list[FileChange]:
        out: list[FileChange] = []
        for original, copy in sorted(self.copied.items()):
            before = read(original)
            after = read(copy) if copy.is_file() else before
            if before != after:
                out.append(FileChange(original, before, after))
        return out

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def relative_path(path: Path) -> str | None:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return None


def display_path(path: Path) -> str:
    return relative_path(path) or str(path)


def unified_diff(changes: Sequence[FileChange]) -> str:
    """A diff ``git apply`` / ``patch -p1`` takes: ``a/`` and ``b/`` prefixes on paths relative to the current
    folder; a file outside it is named by its absolute path (``patch -p0``)."""
    parts: list[str] = []
    for change in changes:
        rel = relative_path(change.path)
        old, new = (f"a/{rel}", f"b/{rel}") if rel is not None else (str(change.path), str(change.path))
        parts.extend(difflib.unified_diff(change.before.splitlines(keepends=True),
                                          change.after.splitlines(keepends=True), fromfile=old, tofile=new))
        if parts and not parts[-1].endswith("\n"):
            parts[-1] += "\n\\ No newline at end of file\n"
    return "".join(parts)


class WriteError(Exception):
    """The files could not be written (or changed while the fix ran); every file is as it was before."""


def write_all(changes: Sequence[FileChange]) -> None:
    """Write every change or none: all new contents go to temporary files beside their targets first, then each
    is renamed over its target; a failure part-way puts back the files already replaced. A file that changed
    since the fix read it is not overwritten."""
    staged: list[tuple[FileChange, str]] = []
    try:
        for change in changes:
            if read(change.path) != change.before:
                raise WriteError(f"{change.path} changed while the fix ran; nothing was written")
            fd, tmp = tempfile.mkstemp(prefix=f".{change.path.name}.", suffix=".mlaudit-fix",
                                       dir=change.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(change.after)
                fh.flush()
                os.fsync(fh.fileno())
            shutil.copymode(change.path, tmp)
            staged.append((change, tmp))
    except (OSError, WriteError) as exc:
        for _, tmp in staged:
            _unlink(tmp)
        raise exc if isinstance(exc, WriteError) else WriteError(f"could not write the fix: {exc}") from exc
    done: list[FileChange] = []
    try:
        for change, tmp in staged:
            os.replace(tmp, change.path)
            done.append(change)
    except OSError as exc:
        failed = staged[len(done)][0].path
        for written in done:
            _restore(written)
        for _, tmp in staged[len(done):]:
            _unlink(tmp)
        raise WriteError(f"could not write {failed}: {exc}; the files already written were restored") from exc


def _restore(change: FileChange) -> None:
    try:
        write(change.path, change.before)
    except OSError:
        pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

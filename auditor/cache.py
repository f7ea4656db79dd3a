"""Where mlaudit keeps derived data (advisory index, index metadata, Hub answers).

``MLAUDIT_CACHE_DIR`` overrides the platform cache directory so that tests and CI use a throw-away folder.
Writes go through ``atomic_write`` so that an interrupted run never leaves a half-written cache file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

CACHEDIR_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
                b"# This file is a cache directory tag created by mlaudit.\n"
                b"# For information about cache directory tags, see https://bford.info/cachedir/\n")


def cache_root() -> Path:
    """Where mlaudit's cache lives (``MLAUDIT_CACHE_DIR`` or the platform's user cache dir); not created."""
    override = os.environ.get("MLAUDIT_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mlaudit"))


def cache_dir() -> Path:
    """mlaudit's cache (advisory index, resolver cache, ...), created on first use and tagged as a cache
    directory (https://bford.info/cachedir/) so that backup tools leave it out."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    tag = path / "CACHEDIR.TAG"
    if not tag.exists():
        try:
            atomic_write(tag, CACHEDIR_TAG)
        except OSError:  # a read-only cache location still works; only the tag is missing
            pass
    return path


def atomic_write(path: Path, data: bytes, *, output: bool = False) -> None:
    """Write ``data`` to ``path`` the way its kind of target needs:

    - a regular file, or a new name: via a temporary file in the same folder and an atomic rename, so a reader (or
      an interrupted run) never sees half a file;
    - a symbolic link: the same, on the link's final target, so the link stays a link;
    - a device, FIFO or socket (``/dev/null``, ``/dev/stdout``, ``/dev/fd/N``, a pipe a CI step reads): written
      straight through, never replaced (renaming over ``/dev/null`` as root would clobber it);
    - a folder: ``UsageError`` (exit 2) naming it, never "internal error: IsADirectoryError".

    ``output`` (a report the user asked for with ``-o``): a new file gets the usual permissions (``0666`` less the
    umask) and a replaced file keeps its own; cache files stay private to the user (``0600``).
    """
    from auditor.errors import UsageError

    given = str(path)
    if given.startswith(("/dev/", "/proc/")):  # /dev/stdout -> /proc/self/fd/1 -> whatever fd 1 is: never renamed
        _write_through(given, data)
        return
    try:
        info: os.stat_result | None = os.stat(path)  # follows links, /proc's magic ones included
    except OSError:
        info = None  # a new file (or one that cannot be looked at: the write below says why)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise UsageError("is a folder; give a file name to write to", file=given)
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_through(given, data)
        return
    target = Path(os.path.realpath(path))  # the final target of a link (also a dangling one)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if info is not None:
            os.chmod(tmp, stat.S_IMODE(info.st_mode))
        elif output:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_through(path: str, data: bytes) -> None:
    """Write into an existing special file (no create, no rename); a FIFO nobody reads would block, as ``cat``
    would: that is what writing to a pipe means."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it where the system says it (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

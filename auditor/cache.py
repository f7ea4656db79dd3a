"""Where mlaudit keeps derived data (advisory index, index metadata, Hub answers).

``MLAUDIT_CACHE_DIR`` overrides the platform cache directory so that tests and CI use a throw-away folder.
Writes go through ``atomic_write`` so that an interrupted run never leaves a half-written cache file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir

CACHEDIR_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
                b"# This file is a cache directory tag created by mlaudit.\n"
                b"# For information about cache directory tags, see https://bford.info/cachedir/\n")


def cache_root() -> Path:
    """Where mlaudit's cache lives (``MLAUDIT_CACHE_DIR`` or the platform's user cache dir); not created."""
    override = os.environ.get("MLAUDIT_CACHE_DIR")
    return Path(override) if override else Path(user_cache_dir("mlaudit"))


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


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

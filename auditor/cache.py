"""Where mlaudit keeps derived data (advisory index, index metadata, Hub answers).

``MLAUDIT_CACHE_DIR`` overrides the platform cache directory so that tests and CI use a throw-away folder.
Writes go through ``atomic_write`` so that an interrupted run never leaves a half-written cache file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir() -> Path:
    override = os.environ.get("MLAUDIT_CACHE_DIR")
    path = Path(override) if override else Path(user_cache_dir("mlaudit"))
    path.mkdir(parents=True, exist_ok=True)
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

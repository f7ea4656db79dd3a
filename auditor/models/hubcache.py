"""Read the local Hugging Face cache (``HF_HUB_CACHE``/``HF_HOME``) without huggingface_hub's network paths.

The layout huggingface_hub writes: ``<cache>/models--org--name/refs/<branch>`` holds a commit sha,
``snapshots/<sha>/<path>`` are links to ``blobs/<etag>`` (LFS blobs are named by their sha256). Offline audits
use only this; online audits use it to point the model scanner at files already downloaded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import constants

from auditor.models.repoid import is_commit

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_SNAPSHOT_FILES = 10_000


def cache_root() -> Path:
    """The hub cache dir as huggingface_hub would pick it now (environment read at call time, not import time)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expanduser(explicit))
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expanduser(home)) / "hub"
    return Path(constants.HF_HUB_CACHE)


def repo_folder(root: Path, repo_id: str, kind: str) -> Path:
    return root / f"{'datasets' if kind == 'dataset' else 'models'}--{repo_id.replace('/', '--')}"


@dataclass
class CachedFile:
    path: str
    size: int
    sha256: str | None
    local_path: str


@dataclass
class CachedSnapshot:
    commit: str
    folder: Path
    files: list[CachedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # links whose blob is gone (removed from the cache)
    truncated: bool = False  # more than MAX_SNAPSHOT_FILES files: the rest not listed


def find_snapshot(root: Path, repo_id: str, kind: str, revision: str | None) -> CachedSnapshot | None:
    """The cached snapshot a revision points to (a branch/tag via ``refs/``, a commit directly), or None."""
    folder = repo_folder(root, repo_id, kind)
    if not folder.is_dir():
        return None
    rev = revision or "main"
    if ".." in rev.split("/") or rev.startswith("/"):
        return None
    commit: str | None = None
    if is_commit(rev) and (folder / "snapshots" / rev).is_dir():
        commit = rev
    else:
        ref_file = folder / "refs" / rev
        try:
            text = ref_file.read_text(encoding="utf-8").strip() if ref_file.is_file() else ""
        except OSError:
            text = ""
        if is_commit(text) and (folder / "snapshots" / text).is_dir():
            commit = text
    if commit is None:
        return None
    snapshot = CachedSnapshot(commit=commit, folder=folder / "snapshots" / commit)
    snapshot.files = list_files(snapshot.folder, snapshot.missing)
    snapshot.truncated = len(snapshot.files) >= MAX_SNAPSHOT_FILES
    return snapshot


def list_files(snapshot: Path, missing: list[str] | None = None) -> list[CachedFile]:
    """The snapshot's files (paths relative to it, sizes and sha256 of LFS blobs). A link whose blob was removed
    from the cache is not a file to check: its path goes to ``missing``, for the caller to report."""
    out: list[CachedFile] = []
    for dirpath, dirnames, filenames in os.walk(snapshot):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                size = path.stat().st_size  # follows the link to the blob
            except OSError:
                if missing is not None:
                    missing.append(path.relative_to(snapshot).as_posix())
                continue
            target = os.path.basename(os.readlink(path)) if path.is_symlink() else ""
            out.append(CachedFile(path=path.relative_to(snapshot).as_posix(), size=size,
                                  sha256=target if _SHA256_RE.match(target) else None, local_path=str(path)))
            if len(out) >= MAX_SNAPSHOT_FILES:
                return out
    return out

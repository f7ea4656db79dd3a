"""Build a Hugging Face cache layout in code (what huggingface_hub writes): refs/, snapshots/<sha>/ links, blobs/."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.models.fakehub import commit_of, git_sha1


def write_cached_repo(cache: Path, repo_id: str, files: dict[str, bytes], *, kind: str = "model",
                      branch: str = "main", commit: str | None = None) -> Path:
    """Write one cached snapshot; LFS-like files get sha256 blob names, others git blob ids. Returns the snapshot."""
    commit = commit or commit_of(repo_id)
    folder = cache / f"{'datasets' if kind == 'dataset' else 'models'}--{repo_id.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / branch).write_text(commit)
    snapshot = folder / "snapshots" / commit
    for path, data in files.items():
        lfs = not path.endswith((".json", ".md", ".py", ".txt"))
        blob = hashlib.sha256(data).hexdigest() if lfs else git_sha1(data)
        (folder / "blobs").mkdir(exist_ok=True)
        (folder / "blobs" / blob).write_bytes(data)
        link = snapshot / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(folder / "blobs" / blob, link.parent))
    return snapshot

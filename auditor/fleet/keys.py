"""The digest that names a unit's result: what it reads (file contents), how it is audited (options, policy file,
environment that changes answers) and with which data (mlaudit version, advisory index, popularity lists).

Why contents and not modification times: a fresh clone of an unchanged repository must reuse its result, and an
edit that keeps the mtime must not. Reading every file on every rerun would make resuming a large model store cost
as much as scanning it, so ``DigestMemo`` keeps each file's digest beside its stat signature (device, inode, size,
mtime and ctime, which no user tool can set back) and reads a file again only when that signature changed, as
git's index does. The key itself is always a digest of contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.digest import sha256_file
from auditor.projectwalk import TreeWalk

HASH_THREADS = 4  # hashing releases the GIL: a few threads keep a disk busy
# Environment variables whose value changes what an audit answers (indexes, Hub, offline switches). Their values
# enter the key only as a digest (an index URL may carry a token).
ENV_PREFIXES = ("MLAUDIT_", "HF_", "HUGGINGFACE_", "UV_", "PIP_")
ENV_NAMES = frozenset({"TRANSFORMERS_OFFLINE"})
ENV_IGNORED = frozenset({"MLAUDIT_CACHE_DIR"})  # where derived data lives, not what it says


def relevant_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(environ.items())
            if (k.startswith(ENV_PREFIXES) or k in ENV_NAMES) and k not in ENV_IGNORED}


def _signature(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


class DigestMemo:
    """File digests remembered by stat signature in a SQLite file (``None``: in memory). Used by the driver only."""

    def __init__(self, path: Path | None) -> None:
        self.conn = sqlite3.connect(str(path) if path else ":memory:")
        self.conn.execute("CREATE TABLE IF NOT EXISTS digests(path TEXT PRIMARY KEY, sig TEXT NOT NULL, "
                          "digest TEXT NOT NULL)")
        self.read_files = 0
        self.read_bytes = 0

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()

    def digests(self, paths: Sequence[Path]) -> list[str]:
        """One entry per path: ``sha256:<hex>``, ``missing`` or ``special:<mode>`` (a FIFO or device is never
        opened: reading one could block for ever)."""
        out: list[str] = [""] * len(paths)
        todo: list[tuple[int, Path, str, int]] = []
        for i, p in enumerate(paths):
            try:
                st = p.stat()
            except OSError:
                out[i] = "missing"
                continue
            if not stat.S_ISREG(st.st_mode):
                out[i] = f"special:{stat.S_IFMT(st.st_mode):o}"
                continue
            sig = _signature(st)
            row = self.conn.execute("SELECT sig, digest FROM digests WHERE path = ?", (str(p.absolute()),)).fetchone()
            if row is not None and row[0] == sig:
                out[i] = row[1]
            else:
                todo.append((i, p, sig, st.st_size))
        if todo:
            with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
                hashed = list(pool.map(_hash, [p for _, p, _, _ in todo]))
            for (i, p, sig, size), digest in zip(todo, hashed, strict=True):
                out[i] = digest
                if digest.startswith("sha256:"):
                    self.read_files += 1
                    self.read_bytes += size
                    self.conn.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?)", (str(p.absolute()), sig,
                                                                                         digest))
            self.conn.commit()
        return out


def _hash(path: Path) -> str:
    try:
        return "sha256:" + sha256_file(path)
    except OSError as exc:
        return f"unreadable:{exc.errno}"


def project_files(path: Path) -> list[Path]:
    """What an audit of ``path`` reads from disk: the input itself and the project tree it belongs to (the
    directory, or a file's folder, walked the way the model-reference finder and the model scanner walk it)."""
    root = path if path.is_dir() else path.parent
    files: list[Path] = [] if path.is_dir() else [path]
    walk = TreeWalk(root)
    for base, names in walk:
        files.extend(base / name for name in names)
    # what the walk listed instead of reading (a FIFO, an unreadable folder, a folder left out) is part of the
    # report: its appearance or disappearance must change the key (digested as missing/special, never read)
    files.extend(gap.path for gap in walk.gaps)
    return files


def digest_of(parts: Iterable[Any]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def project_key(path: str, cwd: str, common: str, memo: DigestMemo) -> str:
    """The key of one project: the path as given (reports show it) and the folder it is relative to, the
    run-wide ``common`` digest, and every file the audit reads by relative name and content."""
    p = Path(path)
    if not p.exists():
        return digest_of(["project", path, cwd, common, "missing"])
    files = project_files(p)
    root = p if p.is_dir() else p.parent
    names = [os.path.relpath(f, root) for f in files]
    return digest_of(["project", path, cwd, common, list(zip(names, memo.digests(files), strict=True))])


def shard_key(files: Sequence[str], cwd: str, common: str, memo: DigestMemo) -> str:
    return digest_of(["shard", cwd, common, list(zip(files, memo.digests([Path(f) for f in files]), strict=True))])


def common_key(options: Mapping[str, Any], environ: Mapping[str, str], data: Sequence[str]) -> str:
    """What every unit of the run shares: mlaudit's version, the audit options, the environment that changes
    answers, and digests of the data in use (advisory index, popularity lists, policy file)."""
    env_digest = digest_of(sorted(relevant_env(environ).items()))
    return digest_of(["common", __version__, dict(options), env_digest, list(data)])

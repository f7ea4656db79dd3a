"""Files that stand in for content a checkout does not hold: Git LFS pointers, git-annex pointers and links, DVC
outputs that were never pulled.

A clone without ``git lfs`` (the default of most CI checkouts) holds, in place of ``model.safetensors``, a text file
of about 130 bytes naming the content's sha256 and size. Reading it as safetensors says "invalid header" and calls a
model corrupt that is merely absent. Such a file is recognised by its *content* (never by name alone: a real
weights file named like one is always scanned) and is not scanned: it is listed with the command that fetches it.

How it is listed depends on who asked (``scan_paths(project_root=...)``):

- ``mlaudit scan PATH`` (the user asked for these files' content): a skipped item, the report is incomplete, since
  the model that was to be checked was not;
- a project audit (``mlaudit .``, files found by walking the checkout): an excluded item of its own reason. The
  checkout holds no model content under that name, so nothing there can be loaded either; the report lists the
  file and the command that brings the content, without calling the audit incomplete.

Only exact pointer formats are accepted: a Git LFS pointer is at most 1024 bytes of ``key value`` lines starting
with the spec's ``version`` line and holding ``oid sha256:<64 hex>`` and ``size <n>``; nothing else fits, so no
loader-readable payload can hide in one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LFS_MAX = 1024  # the Git LFS specification: pointer files are smaller than 1024 bytes
ANNEX_MAX = 32 * 1024  # git-annex reads at most this much of a file when looking for a pointer
_LFS_VERSIONS = (b"https://git-lfs.github.com/spec/v1", b"https://hawser.github.com/spec/v1")
_LFS_KEY = re.compile(rb"^(?:version|oid|size|ext-[0-9]+-[a-z0-9]+)$")
_LFS_VALUE = re.compile(rb"^[A-Za-z0-9:._/+=@-]+$")  # no spaces, braces or quotes: nothing a loader could run
_LFS_OID = re.compile(rb"^sha256:[0-9a-f]{64}$")
_ANNEX_KEY = re.compile(r"^[A-Z0-9]+(?:-[a-zA-Z][0-9]+)*--[^/\s]+$")
_ANNEX_SIZE = re.compile(r"-s([0-9]+)")

LFS_REASON = "Git LFS pointer: content not present (run `git lfs pull` to scan it)"
ANNEX_REASON = "git-annex placeholder: content not present (run `git annex get` to scan it)"
DVC_REASON = "DVC-tracked: content not present (run `dvc pull` to scan it)"


@dataclass(frozen=True)
class Placeholder:
    """A stand-in for absent content: which system, the reason to list, and what it says of the content."""

    system: str  # "git-lfs" | "git-annex" | "dvc"
    reason: str
    size: int | None = None  # size of the absent content, as the pointer records it
    oid: str | None = None


def lfs_pointer(data: bytes) -> Placeholder | None:
    """A Git LFS pointer file's content (the whole file), or None when the bytes are anything else."""
    if len(data) >= LFS_MAX or not data.startswith(b"version "):
        return None
    text = data.replace(b"\r\n", b"\n")
    if not text.endswith(b"\n"):
        text += b"\n"
    fields: dict[bytes, bytes] = {}
    for line in text[:-1].split(b"\n"):
        key, sep, value = line.partition(b" ")
        if not sep or not _LFS_KEY.match(key) or key in fields or not _LFS_VALUE.match(value):
            return None
        fields[key] = value
    if fields.get(b"version") not in _LFS_VERSIONS:
        return None
    oid, size = fields.get(b"oid", b""), fields.get(b"size", b"")
    if not _LFS_OID.match(oid) or not size.isdigit():
        return None
    return Placeholder("git-lfs", LFS_REASON, int(size), oid.decode())


def annex_pointer(data: bytes) -> Placeholder | None:
    """A git-annex pointer file (an unlocked file whose content is absent): one ``/annex/objects/KEY`` line."""
    if len(data) > ANNEX_MAX or not data.startswith(b"/annex/objects/"):
        return None
    line = data.rstrip(b"\r\n")
    if b"\n" in line or not line.isascii():
        return None
    return _annex_key(line.decode()[len("/annex/objects/"):])


def annex_link(path: Path) -> Placeholder | None:
    """A git-annex symlink (a locked file) whose target object is not in the annex, or None."""
    try:
        if not os.path.islink(path) or os.path.exists(path):
            return None
        target = os.readlink(path)
    except (OSError, ValueError):
        return None
    norm = target.replace("\\", "/")
    if "/annex/objects/" not in norm:
        return None
    return _annex_key(norm.rstrip("/").rsplit("/", 1)[-1])


def _annex_key(key: str) -> Placeholder | None:
    if not _ANNEX_KEY.match(key):
        return None
    size = _ANNEX_SIZE.search(key.split("--", 1)[0])
    return Placeholder("git-annex", ANNEX_REASON, int(size.group(1)) if size else None, key)


def sniff_placeholder(path: Path, head: bytes, size: int) -> Placeholder | None:
    """The placeholder a whole small file is (``head`` holds the file when ``size`` is small), or None."""
    if size < LFS_MAX and len(head) == size:
        found = lfs_pointer(head)
        if found is not None:
            return found
    if size <= ANNEX_MAX and head.startswith(b"/annex/objects/"):
        data = head if len(head) == size else _read(path, size)
        return annex_pointer(data) if data is not None else None
    return None


def _read(path: Path, size: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None


# -- DVC ------------------------------------------------------------------------------------------------------
DVC_MAX = 256 * 1024


def dvc_absent_outputs(dvc_file: Path, wanted: Callable[[Path, bool], bool]) -> list[tuple[Path, Placeholder]]:
    """Outputs a ``*.dvc`` file tracks that are absent beside it and that ``wanted(path, is_dir)`` calls model
    content. A file that cannot be read or parsed yields nothing: it is no model file, and the walk that found it
    scans every model file that is present."""
    import yaml

    try:
        if dvc_file.stat().st_size > DVC_MAX:
            return []
        doc = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return []
    outs = doc.get("outs") if isinstance(doc, dict) else None
    found: list[tuple[Path, Placeholder]] = []
    for out in outs if isinstance(outs, list) else []:
        if not isinstance(out, dict) or not isinstance(out.get("path"), str):
            continue
        rel = out["path"]
        if rel.startswith(("/", "\\")) or ".." in Path(rel).parts or "://" in rel:
            continue  # outputs outside the directory of the .dvc file are not part of this checkout's tree
        target = dvc_file.parent / rel
        if os.path.lexists(target):
            continue  # present: the walk scans it
        is_dir = str(out.get("md5", "")).endswith(".dir") or rel.endswith("/") or "nfiles" in out
        if not wanted(target, is_dir):
            continue
        size = out.get("size")
        found.append((target, Placeholder("dvc", DVC_REASON, size if isinstance(size, int) else None,
                                          str(out.get("md5") or out.get("etag") or "") or None)))
    return found

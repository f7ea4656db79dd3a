"""What a fleet run is made of: units (a project to audit, a model store to scan) and a store's shards.

A unit's id is its report's file name: readable (the last parts of its path) and collision-safe (a digest of the
absolute path and kind), and stable across runs so that a rerun in the same output folder finds its results.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from auditor.errors import InputError, UsageError

MAX_LIST_LINE = 4096
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SHARD_FILES = 500  # files per shard of a model store: small enough to spread, large enough to amortise a task
SHARD_BYTES = 8 << 30  # and at most this many bytes, so one shard of huge checkpoints does not hold up the run


class UnitKind(str, Enum):
    PROJECT = "project"
    STORE = "store"


@dataclass(frozen=True)
class Unit:
    """One report of the fleet: ``path`` as the user gave it (reports show it so), ``real`` its absolute form."""

    uid: str
    kind: UnitKind
    path: str
    real: str

    @property
    def report_name(self) -> str:
        return f"{self.uid}.json"


@dataclass(frozen=True)
class Shard:
    """Files of one store, in ``scan_paths`` order; shards of a store, joined in index order, are the store."""

    store: str  # the store unit's uid
    index: int
    files: tuple[str, ...]
    key: str = ""


def unit_id(kind: UnitKind, path: str) -> str:
    real = os.path.realpath(path)
    parts = [p for p in Path(real).parts if p not in ("/", "\\")][-2:]
    slug = _UNSAFE.sub("_", "-".join(parts)).strip("._-")[:80] or "root"
    digest = hashlib.sha256(f"{kind.value}\0{real}".encode()).hexdigest()[:10]
    return f"{slug}-{digest}" if kind is UnitKind.PROJECT else f"store-{slug}-{digest}"


def read_list(path: str) -> list[str]:
    """``--from-file``: one project path a line, read verbatim: only the line terminator (``\\n`` or ``\\r\\n``)
    is removed, so a path that begins or ends with spaces is that path. Empty lines (or spaces only) and lines
    beginning with ``#`` are skipped (write ``./#name`` for a folder whose name begins with ``#``). A path is
    taken relative to the current directory, as on the command line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the project list: {exc.strerror or exc}", file=path) from exc
    out: list[str] = []
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the terminator of the last line
    for lineno, line_bytes in enumerate(lines, start=1):
        line_bytes = line_bytes.removesuffix(b"\r")
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8 text", file=path, line=lineno) from exc
        if "\0" in line:
            raise InputError("NUL byte in a path", file=path, line=lineno)
        if len(line) > MAX_LIST_LINE:
            raise InputError(f"line longer than {MAX_LIST_LINE} characters", file=path, line=lineno)
        if line.strip() and not line.startswith("#"):
            out.append(line)
    return out


def plan_units(projects: Sequence[str], stores: Sequence[str]) -> list[Unit]:
    """Units in the order given, each folder once: paths are compared by what they resolve to (links and ``..``
    followed as the system follows them), so two spellings of one folder are audited once and two folders whose
    paths read alike (``a/zz/../../a/p00`` through a link, and ``a/p00``) are both audited."""
    units: list[Unit] = []
    seen: set[tuple[UnitKind, str]] = set()
    for kind, paths in ((UnitKind.PROJECT, projects), (UnitKind.STORE, stores)):
        for path in paths:
            real = os.path.realpath(path)
            if (kind, real) in seen:
                continue
            seen.add((kind, real))
            units.append(Unit(unit_id(kind, path), kind, path, real))
    return units


def cut_shards(store: str, files: Iterable[tuple[str, int]], *, max_files: int = SHARD_FILES,
               max_bytes: int = SHARD_BYTES) -> list[Shard]:
    """Consecutive runs of ``(display path, size)`` bounded in count and bytes (a file larger than ``max_bytes``
    is a shard of its own)."""
    shards: list[Shard] = []
    current: list[str] = []
    size = 0
    for path, nbytes in files:
        if current and (len(current) >= max_files or size + nbytes > max_bytes):
            shards.append(Shard(store, len(shards), tuple(current)))
            current, size = [], 0
        current.append(path)
        size += nbytes
    if current:
        shards.append(Shard(store, len(shards), tuple(current)))
    return shards

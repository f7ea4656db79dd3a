"""Containers: zip (PyTorch, Keras 3, npz, plain), tar and compressed streams, scanned member by member.

Members are judged by their bytes, never their names; bounds on member count, declared and actual uncompressed
size and nesting depth turn zip bombs into findings. Duplicate member names are findings too: which copy a loader
reads depends on the loader, so a scanner that reads the other copy is bypassed.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from collections import Counter
from typing import IO, Any, BinaryIO, cast

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.roles import member_role, model_like
from auditor.scan.state import ScanState
from auditor.scan.ziploader import CRC_CHECK_LIMIT, Member, MemberError, open_member, walk_local_headers


class _Bounded(io.RawIOBase):
    """Reads at most ``limit`` bytes from ``f``; raises OverflowError past it (decompression bombs)."""

    def __init__(self, f: IO[bytes], limit: int) -> None:
        self._f = f
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        want = len(b)
        data = self._f.read(want)
        self.count += len(data)
        if self.count > self._limit:
            raise OverflowError(f"more than {self._limit} bytes after decompression")
        b[: len(data)] = data
        return len(data)


def unsafe_member_name(name: str) -> str | None:
    """Why extracting a member of this name would escape the target directory, or None."""
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":"):
        return "absolute path"
    if "\x00" in n:
        return "NUL byte in name"
    parts = [p for p in n.split("/") if p not in ("", ".")]
    if ".." in parts:
        norm = posixpath.normpath(n)
        if norm == ".." or norm.startswith("../") or ".." in parts:
            return "parent-directory ('..') component"
    return None


def too_deep(state: ScanState) -> bool:
    if state.depth >= state.limits.max_depth:
        state.add(ScanRule.ARCHIVE_DEPTH, Severity.MEDIUM,
                  f"containers nested more than {state.limits.max_depth} deep; inner content unverified",
                  {"format": "archive", "depth": state.depth})
        state.gap(f"containers nested more than {state.limits.max_depth} deep (limit max_depth): inner content "
                  "not checked")
        return True
    return False


def _zip_kind(names: list[str]) -> str:
    base = {n.rsplit("/", 1)[-1] for n in names}
    if any("/code/__torch__" in n or n.startswith("code/__torch__") for n in names) or "constants.pkl" in base:
        return "torchscript"
    if any(n.endswith("data.pkl") for n in names) and (any("/data/" in n for n in names) or "data.pkl" in base):
        return "torch-zip"
    if "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        return "keras-v3"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    if "schema.json" in names:
        return "skops"
    return "zip"


def declared_entries(f: BinaryIO, size: int) -> int | None:
    """The entry count the end-of-central-directory record declares (zip64 aware), read before any listing is
    built, so a directory of millions of entries is refused instead of parsed into memory; None when not found."""
    start = f.tell()
    tail_len = min(size, 66 * 1024)
    try:
        f.seek(start + size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return None
        count = struct.unpack("<H", tail[at + 10:at + 12])[0]
        if count == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":
            z64 = struct.unpack("<Q", tail[at - 12:at - 4])[0]
            if 0 <= z64 <= size - 56:
                f.seek(start + z64)
                rec = f.read(56)
                if rec[:4] == b"PK\x06\x06":
                    count = struct.unpack("<Q", rec[32:40])[0]
        return int(count)
    finally:
        f.seek(start)


def _zip_members(f: BinaryIO, state: ScanState, size: int) -> list[Member] | None:
    """Members from the central directory, or (when it is unreadable) from a walk over the local headers."""
    declared = declared_entries(f, size)
    if declared is not None and declared > state.limits.max_archive_entries:
        state.note_format("zip")
        state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"the zip directory declares {declared} entries (limit "
                  f"{state.limits.max_archive_entries}); not read", {"format": "zip", "members": declared})
        state.gap(f"zip with {declared} entries exceeds the limit max_archive_entries="
                  f"{state.limits.max_archive_entries}: contents not checked")
        return None
    try:
        return [Member.from_info(i) for i in zipfile.ZipFile(f).infolist()]
    except (zipfile.BadZipFile, OSError, ValueError, struct.error, NotImplementedError, EOFError) as exc:
        error = str(exc)[:200]
    members = list(walk_local_headers(f, size, state.limits.max_archive_entries + 1))
    if not members:
        state.note_format("zip (invalid)")
        state.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"zip structure could not be read ({error}); contents "
                  "unverified", {"format": "zip", "error": error})
        return None
    state.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"zip central directory could not be read ({error}); the "
              f"{len(members)} member(s) found by walking local headers (as stream readers do) were scanned",
              {"format": "zip", "error": error, "members": len(members)})
    return members


def scan_zip(f: BinaryIO, state: ScanState, size: int) -> None:
    members = _zip_members(f, state, size)
    if members is None:
        return
    names = [m.name for m in members]
    kind = _zip_kind(names)
    state.note_format(kind)
    lim = state.limits
    # Raw torch storages are read as bytes, never unpickled: they are not scanned and do not count against the
    # member limit (10,000 storages must not push data.pkl out of reach). What is scanned goes in loader order:
    # members a loader deserialises (by name) first, so a limit never leaves those unread.
    raw = kind in ("torch-zip", "torchscript")
    scannable = [m for m in members if not m.is_dir and not (raw and _torch_raw(m.name))]
    if len(scannable) > lim.max_archive_members:
        scannable.sort(key=lambda m: not model_like(m.name))
        left = scannable[lim.max_archive_members:]
        state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"{len(scannable)} members to scan (limit "
                  f"{lim.max_archive_members}); {len(left)} were not scanned",
                  {"format": kind, "members": len(scannable), "not_scanned": [m.name for m in left[:20]]})
        state.gap(f"archive with {len(scannable)} members exceeds the limit max_archive_members="
                  f"{lim.max_archive_members}: {len(left)} member(s) not checked (first: {left[0].name!r})")
        chosen = {id(m) for m in scannable[:lim.max_archive_members]}
        members = [m for m in members if id(m) in chosen or m.is_dir or (raw and _torch_raw(m.name))]
    total = sum(m.file_size for m in members)
    if total > lim.max_archive_total:
        state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"declared uncompressed size {total} bytes exceeds the "
                  f"{lim.max_archive_total}-byte limit", {"format": kind, "uncompressed": total})
    copies = Counter(names)
    for name, count in copies.items():
        if count > 1:
            state.add(ScanRule.ARCHIVE_DUPLICATE, Severity.HIGH,
                      f"member {name!r} appears {count} times; loaders disagree on which copy they read "
                      "(every copy was scanned)", {"format": kind, "member": name, "copies": count})
    for m in members:
        if stat.S_ISLNK(m.external_attr >> 16) and m.file_size <= 4096:
            target = _read_small(f, m, size).decode("utf-8", "replace")
            joined = posixpath.join(posixpath.dirname(m.name), target)
            if target and (unsafe_member_name(target) == "absolute path" or unsafe_member_name(joined)):
                state.add(ScanRule.ARCHIVE_TRAVERSAL, Severity.HIGH,
                          f"symlink member {m.name!r} points outside the archive ({target!r})",
                          {"format": kind, "member": m.name, "link": target})
        why = unsafe_member_name(m.name)
        if why:
            state.add(ScanRule.ARCHIVE_TRAVERSAL, Severity.HIGH,
                      f"member {m.name!r} would be extracted outside the target directory ({why})",
                      {"format": kind, "member": m.name, "why": why})
    if too_deep(state):
        return
    name_set = set(names)
    for idx, m in enumerate(members):
        if m.is_dir:
            continue
        if kind in ("torch-zip", "torchscript") and _torch_raw(m.name):
            continue  # raw tensor storages: torch reads them as bytes, never unpickles them
        child = state.child(m.name if copies[m.name] == 1 else f"{m.name}#{idx}")
        if m.compress_size and m.file_size // max(m.compress_size, 1) > lim.max_compression_ratio \
                and m.file_size > (64 << 20):
            child.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"compression ratio {m.file_size // m.compress_size}:1 "
                      f"({m.file_size} bytes declared); not decompressed", {"format": kind, "member": m.name})
            continue
        _scan_member(f, size, m, child, kind, member_role(m.name, name_set))
    if kind == "torchscript":
        from auditor.scan.torchscript import check_torchscript

        check_torchscript(f, size, members, state)
    if kind == "skops":
        _skops_schema(f, size, members, state)


def _skops_schema(f: BinaryIO, size: int, members: list[Member], state: ScanState) -> None:
    from auditor.scan.skops_scan import scan_skops_schema

    schema = next(m for m in members if m.name == "schema.json")
    child = state.child("schema.json")
    if schema.file_size > state.limits.max_json:
        child.add(ScanRule.SKOPS_INVALID, Severity.MEDIUM, "skops schema.json too large to inspect",
                  {"format": "skops", "size": schema.file_size})
        child.gap(f"skops schema.json larger than the limit max_json={state.limits.max_json}: not checked")
        return
    try:
        text = open_member(f, schema, size).read(state.limits.max_json)
    except (MemberError, OSError, zlib.error, EOFError, ValueError) as exc:
        child.add(ScanRule.SKOPS_INVALID, Severity.MEDIUM, f"skops schema.json could not be read ({exc})",
                  {"format": "skops"})
        child.gap("skops schema.json unreadable: the types it loads were not checked")
        return
    scan_skops_schema(text, child)


def _read_small(f: BinaryIO, m: Member, size: int) -> bytes:
    try:
        return open_member(f, m, size).read(4096)
    except (MemberError, OSError, zlib.error, EOFError, ValueError):
        return b""


def _scan_member(f: BinaryIO, size: int, m: Member, child: ScanState, kind: str, role: str | None) -> None:
    """Scan one member as a loader reads it; report damage (flags, CRC, names) beside what the content does."""
    from auditor.scan.dispatch import scan_stream

    lim = child.limits
    try:
        reader = open_member(f, m, size)
    except MemberError as exc:
        child.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"member could not be located: {exc}; unverified",
                  {"format": kind, "member": m.name})
        return
    fmt = "unknown"
    try:
        stream = io.BufferedReader(_Bounded(cast(IO[bytes], reader), lim.max_member_read), 1 << 16)
        fmt = scan_stream(cast(BinaryIO, stream), child, name=m.name,
                          size=m.file_size if m.method == zipfile.ZIP_STORED else None, role=role)
        if m.file_size <= CRC_CHECK_LIMIT and reader.drain(CRC_CHECK_LIMIT) and reader.crc != m.crc:
            m.damage.append(f"CRC-32 {reader.crc:08x} of the data does not match the recorded {m.crc:08x}")
    except OverflowError as exc:
        child.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"member decompresses past the limit ({exc})",
                  {"format": kind, "member": m.name})
        child.gap(f"member decompresses past the limit max_member_read={lim.max_member_read}: the rest not checked")
    except (OSError, zlib.error, EOFError, ValueError, lzma.LZMAError) as exc:
        child.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"member could not be read ({type(exc).__name__}: "
                  f"{str(exc)[:160]}); unverified", {"format": kind, "member": m.name})
    encrypted = bool(m.flags & 0x41)
    if encrypted and fmt == "unknown":
        # genuinely encrypted: no loader reads it without the password, and we cannot read it either
        if not any(s.file == child.path for s in child.collector.skipped):
            child.skip("encrypted zip member: contents could not be inspected")
        child.add(ScanRule.SCAN_UNVERIFIED, Severity.INFO, "encrypted member could not be inspected",
                  {"format": kind, "member": m.name})
        return
    if m.damage:
        child.add(ScanRule.ARCHIVE_DAMAGED, Severity.MEDIUM,
                  f"member {m.name!r} is malformed in ways Python's zipfile refuses but model loaders accept: "
                  + "; ".join(m.damage) + ". It was scanned as the loader reads it.",
                  {"format": kind, "member": m.name, "damage": m.damage})


def _torch_raw(member: str) -> bool:
    parts = member.split("/")
    return (len(parts) >= 2 and parts[-2] == "data" and parts[-1].isdigit()) or parts[-1] in (
        "byteorder", "version", ".format_version", ".storage_alignment", "serialization_id")


def check_polyglot_zip(f: BinaryIO, state: ScanState, size: int) -> None:
    """A pickle at offset 0 with a zip directory at the end: zip tools and torch.load see different files."""
    if size < 22:
        return
    tail_len = min(size, 66 * 1024)
    start = f.tell()
    f.seek(start + size - tail_len)
    tail = f.read(tail_len)
    f.seek(start)
    if b"PK\x05\x06" not in tail:
        return
    state.add(ScanRule.POLYGLOT, Severity.HIGH,
              "file is both a pickle (at offset 0) and a zip archive (directory at its end): zip-based scanners "
              "and torch.load read different content", {"format": "polyglot"})
    from auditor.scan.dispatch import _Window

    scan_zip(_Window(f, start, size), state, size)  # type: ignore[arg-type]


def scan_tar(f: BinaryIO, state: ScanState) -> None:
    from auditor.scan.dispatch import scan_stream

    lim = state.limits
    state.note_format("tar")
    count = 0
    total = 0
    deep = state.depth >= lim.max_depth
    if deep:
        too_deep(state)
    try:
        with tarfile.open(fileobj=f, mode="r|*") as tf:
            for member in tf:
                count += 1
                if count > lim.max_archive_members:
                    state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"more than {lim.max_archive_members} members; "
                              "the rest was not scanned", {"format": "tar"})
                    state.gap(f"tar with more than {lim.max_archive_members} members (limit max_archive_members): "
                              f"the rest from {member.name!r} on not checked")
                    break
                why = unsafe_member_name(member.name)
                if why:
                    state.add(ScanRule.ARCHIVE_TRAVERSAL, Severity.HIGH,
                              f"member {member.name!r} would be extracted outside the target directory ({why})",
                              {"format": "tar", "member": member.name, "why": why})
                if member.issym() or member.islnk():
                    target = member.linkname
                    if unsafe_member_name(target) or unsafe_member_name(
                            posixpath.join(posixpath.dirname(member.name), target)):
                        state.add(ScanRule.ARCHIVE_TRAVERSAL, Severity.HIGH,
                                  f"link {member.name!r} points outside the archive ({target!r})",
                                  {"format": "tar", "member": member.name, "link": target})
                    continue
                if not member.isfile():
                    if member.isdev():
                        state.add(ScanRule.ARCHIVE_TRAVERSAL, Severity.HIGH, f"device file member {member.name!r}",
                                  {"format": "tar", "member": member.name})
                    continue
                total += member.size
                if total > lim.max_archive_total:
                    state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, "declared member sizes exceed the limit",
                              {"format": "tar", "uncompressed": total})
                    state.gap(f"tar members exceed the limit max_archive_total={lim.max_archive_total} bytes: the "
                              f"rest from {member.name!r} on not checked")
                    break
                if deep:
                    continue
                fobj = tf.extractfile(member)
                if fobj is not None:
                    scan_stream(cast(BinaryIO, fobj), state.child(member.name), name=member.name, size=member.size)
    except OverflowError as exc:
        state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"archive decompresses past the limit ({exc})",
                  {"format": "tar"})
        state.gap(f"tar decompresses past the limit max_member_read={lim.max_member_read}: the rest not checked")
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        state.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"tar could not be read ({type(exc).__name__}: "
                  f"{str(exc)[:160]}); the rest is unverified", {"format": "tar"})


def scan_compressed(f: BinaryIO, state: ScanState, fmt: str, name: str) -> None:
    from auditor.scan.dispatch import scan_stream

    state.note_format(fmt)
    if too_deep(state):
        return
    opener: Any
    if fmt == "gzip":
        opener = gzip.GzipFile(fileobj=f, mode="rb")
    elif fmt == "bzip2":
        opener = bz2.BZ2File(f, "rb")
    elif fmt == "xz":
        opener = lzma.LZMAFile(f, "rb")
    elif fmt == "lzma":
        opener = lzma.LZMAFile(f, "rb", format=lzma.FORMAT_ALONE)
    elif fmt == "zlib":  # a raw zlib stream (joblib.dump(..., compress=N) writes these)
        opener = _ZlibStream(f)
    else:  # joblib's old zlib container: b"ZF0x" + 16 hex chars of length + zlib stream
        f.read(len(b"ZF0x") + 16)
        opener = _ZlibStream(f)
    inner = name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".bz2", ".xz", ".lzma", ".z"):
        if inner.lower().endswith(suffix):
            inner = inner[: -len(suffix)]
    child = state.child(inner or "<decompressed>")
    try:
        bounded = io.BufferedReader(_Bounded(opener, state.limits.max_member_read), 1 << 16)
        scan_stream(bounded, child, name=inner)
    except OverflowError as exc:
        child.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"stream decompresses past the limit ({exc})", {"format": fmt})
        child.gap(f"{fmt} stream decompresses past the limit max_member_read={state.limits.max_member_read}: the "
                  "rest not checked")
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        child.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"{fmt} stream could not be decompressed "
                  f"({type(exc).__name__}: {str(exc)[:160]}); unverified", {"format": fmt})


class _ZlibStream(io.RawIOBase):
    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._d = zlib.decompressobj()
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            if self._d.unconsumed_tail:
                self._buf = self._d.decompress(self._d.unconsumed_tail, 1 << 20)
                continue
            chunk = self._f.read(1 << 16)
            if not chunk:
                self._buf = self._d.flush()
                if not self._buf:
                    return 0
                break
            self._buf = self._d.decompress(chunk, 1 << 20)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

"""Zip members read the way model loaders read them, not the way Python's ``zipfile`` validates them.

``torch.load`` (miniz) takes each member's offset and sizes from the central directory, skips the local header by
its own name/extra lengths and reads the data: it ignores the encryption and other flag bits, a CRC that does not
match and a local file name that differs from the directory's. ``zipfile`` refuses all of these, so a scanner built
on it reports "could not read" while the loader runs the payload. Here members are opened like the loader does, the
differences are collected as *damage* (reported beside whatever the content turns out to do), and the CRC is
checked on the side. When the central directory itself is unreadable, local headers are walked from the start of
the file, as stream-oriented zip readers do.
"""

from __future__ import annotations

import bz2
import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

LOCAL_SIG = b"PK\x03\x04"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # signature .. extra length (30 bytes)
CRC_CHECK_LIMIT = 64 << 20  # members up to this size get their CRC verified (the rest of the bytes are read)
READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2)


class MemberError(Exception):
    """The member's data cannot be located or decoded at all."""


@dataclass
class Member:
    name: str  # the central directory's name (what loaders look up)
    header_offset: int
    compress_size: int
    file_size: int
    method: int
    flags: int
    crc: int
    external_attr: int = 0
    is_dir: bool = False
    damage: list[str] = field(default_factory=list)

    @classmethod
    def from_info(cls, info: zipfile.ZipInfo) -> Member:
        return cls(info.filename, info.header_offset, info.compress_size, info.file_size, info.compress_type,
                   info.flag_bits, info.CRC, info.external_attr, info.is_dir())


class _Window(io.RawIOBase):
    """``[start, start+length)`` of a seekable file as a sequential stream."""

    def __init__(self, f: BinaryIO, start: int, length: int) -> None:
        self._f = f
        self._pos = start
        self._end = start + length

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._end - self._pos)
        if n <= 0:
            return 0
        self._f.seek(self._pos)
        data = self._f.read(n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


class _Inflate(io.RawIOBase):
    """Raw DEFLATE / BZIP2 decoding of a member's bytes, no CRC or size checks (the loader does none)."""

    def __init__(self, raw: io.RawIOBase, method: int) -> None:
        self._raw = raw
        self._d: Any = zlib.decompressobj(-15) if method == zipfile.ZIP_DEFLATED else bz2.BZ2Decompressor()
        self._zlib = method == zipfile.ZIP_DEFLATED
        self._buf = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._eof:
            if self._zlib and self._d.unconsumed_tail:
                self._buf = self._d.decompress(self._d.unconsumed_tail, 1 << 20)
                continue
            chunk = self._raw.read(1 << 16)
            if not chunk or getattr(self._d, "eof", False):
                self._buf = self._d.flush() if self._zlib else b""
                self._eof = True
                break
            self._buf = self._d.decompress(chunk, 1 << 20) if self._zlib else self._d.decompress(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class CrcReader(io.RawIOBase):
    """Passes bytes through and keeps their CRC-32 and count, so the CRC can be compared after scanning."""

    def __init__(self, inner: io.RawIOBase) -> None:
        self._inner = inner
        self.crc = 0
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        if not data:
            return 0
        self.crc = zlib.crc32(data, self.crc)
        self.count += len(data)
        b[: len(data)] = data
        return len(data)

    def drain(self, limit: int) -> bool:
        """Read the rest (up to ``limit`` bytes in all); False when the member is larger than that."""
        while self.count <= limit:
            if not self.read(1 << 20):
                return True
        return False


def open_member(f: BinaryIO, member: Member, archive_size: int) -> CrcReader:
    """A stream of the member's decoded bytes, located like a loader locates it; damage goes to ``member.damage``."""
    f.seek(member.header_offset)
    raw = f.read(_LOCAL.size)
    if len(raw) < _LOCAL.size or raw[:4] != LOCAL_SIG:
        raise MemberError(f"no local header at offset {member.header_offset}")
    _sig, _ver, lflags, lmethod, _t, _d, _crc, _csize, _usize, nlen, xlen = _LOCAL.unpack(raw)
    local_name = f.read(nlen).decode("utf-8" if lflags & 0x800 else "cp437", "replace")
    if local_name != member.name:
        member.damage.append(f"local header names it {local_name[:120]!r}, the central directory {member.name!r}")
    if member.flags & 0x1 or lflags & 0x1:
        member.damage.append("encryption flag set (loaders that ignore it read the bytes as they are)")
    if (member.flags | lflags) & 0x60:
        member.damage.append(f"flag bits 0x{(member.flags | lflags) & 0x60:02x} (patched data / strong encryption) "
                             "set; loaders that ignore them read the bytes as they are")
    if lmethod != member.method:
        member.damage.append(f"compression method {lmethod} in the local header, {member.method} in the directory")
    start = member.header_offset + _LOCAL.size + nlen + xlen
    if start + member.compress_size > archive_size:
        raise MemberError(f"data of {member.compress_size} bytes at offset {start} runs past the archive")
    window: io.RawIOBase = _Window(f, start, member.compress_size)
    if member.method == zipfile.ZIP_STORED:
        return CrcReader(window)
    if member.method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2):
        return CrcReader(_Inflate(window, member.method))
    raise MemberError(f"compression method {member.method} is not read by model loaders")


def walk_local_headers(f: BinaryIO, size: int, max_members: int) -> Iterator[Member]:
    """Members found by walking local headers from offset 0 (for archives whose central directory is broken)."""
    pos = 0
    count = 0
    while pos + _LOCAL.size <= size and count < max_members:
        f.seek(pos)
        raw = f.read(_LOCAL.size)
        if raw[:4] != LOCAL_SIG:
            return
        _sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen = _LOCAL.unpack(raw)
        name = f.read(nlen).decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if flags & 0x8 and csize == 0:
            return  # sizes only in a data descriptor after the data: the walk cannot continue safely
        count += 1
        yield Member(name, pos, csize, usize, method, flags, crc, is_dir=name.endswith("/"))
        pos += _LOCAL.size + nlen + xlen + csize

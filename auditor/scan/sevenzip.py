"""7z archives (py7zr), scanned member by member with the same bounds as zip: member count, declared total size,
compression ratio, bytes actually decompressed and nesting depth.

py7zr decompresses into writer objects it asks a factory for; ours spool each member to a bounded temporary file
and scan it when py7zr closes it, so a member is never held in memory whole and a bomb stops at the limit.
Nothing is extracted to disk under the member's own name.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any, BinaryIO, cast

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.archives import too_deep, unsafe_member_name
from auditor.scan.state import ScanState

SEVENZIP_EXTRA = "pip install 'mlaudit[7z]'"  # py7zr is an optional extra: without it a 7z archive is a gap


class _Spooled:
    """One member's bytes as py7zr writes them; scanned on close."""

    def __init__(self, name: str, state: ScanState) -> None:
        self.name = name
        self._state = state
        self._tmp = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        self._written = 0
        self.overflow = False

    def write(self, s: bytes | bytearray) -> int:
        if self.overflow:
            return len(s)
        self._written += len(s)
        if self._written > self._state.limits.max_member_read:
            self.overflow = True  # keep accepting (py7zr must finish its stream) but store nothing more
            return len(s)
        return self._tmp.write(s)

    def read(self, size: int | None = None) -> bytes:
        return self._tmp.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._tmp.seek(offset, whence)

    def flush(self) -> None:
        self._tmp.flush()

    def size(self) -> int:
        return self._written

    def close(self) -> None:
        from auditor.scan.dispatch import scan_stream

        child = self._state.child(self.name)
        try:
            if self.overflow:
                child.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"member decompresses past the "
                          f"{self._state.limits.max_member_read}-byte limit; not scanned",
                          {"format": "7z", "member": self.name})
                return
            self._tmp.seek(0)
            scan_stream(cast(BinaryIO, self._tmp), child, name=self.name, size=self._written)
        finally:
            self._tmp.close()


class _Factory:
    def __init__(self, state: ScanState) -> None:
        self._state = state

    def create(self, filename: str) -> _Spooled:
        return _Spooled(filename, self._state)


def scan_7z(f: BinaryIO, state: ScanState, size: int) -> None:
    try:
        import py7zr
        from py7zr.exceptions import Bad7zFile, PasswordRequired, UnsupportedCompressionMethodError
    except ImportError:
        state.note_format("7z")
        state.skip(f"py7zr is not installed: 7z archives cannot be inspected ({SEVENZIP_EXTRA})")
        state.add(ScanRule.SCAN_UNVERIFIED, Severity.MEDIUM, "7z archive could not be inspected (py7zr missing)",
                  {"format": "7z"})
        return
    state.note_format("7z")
    lim = state.limits
    errors: tuple[type[BaseException], ...] = (Bad7zFile, PasswordRequired, UnsupportedCompressionMethodError,
                                               EOFError, OSError, ValueError, KeyError, IndexError, TypeError,
                                               io.UnsupportedOperation, MemoryError)
    try:
        with py7zr.SevenZipFile(cast(Any, f), mode="r") as archive:
            infos = archive.list()
            if archive.needs_password():
                state.skip("encrypted 7z archive: contents could not be inspected")
                state.add(ScanRule.SCAN_UNVERIFIED, Severity.INFO, "encrypted 7z archive could not be inspected",
                          {"format": "7z"})
                return
            files = [i for i in infos if not i.is_directory]
            if len(files) > lim.max_archive_members:
                state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"{len(files)} members (limit "
                          f"{lim.max_archive_members}); not decompressed", {"format": "7z", "members": len(files)})
                state.gap(f"7z with {len(files)} members exceeds the limit max_archive_members="
                          f"{lim.max_archive_members}: contents not checked")
                return
            total = sum(int(i.uncompressed or 0) for i in files)
            if total > lim.max_archive_total or (total > (64 << 20) and total // max(size, 1)
                                                 > lim.max_compression_ratio):
                state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"declared uncompressed size {total} bytes for a "
                          f"{size}-byte archive exceeds the size/ratio limits; not decompressed",
                          {"format": "7z", "uncompressed": total})
                state.gap("7z declared size exceeds the size/ratio limits: contents not checked")
                return
            for info in files:
                why = unsafe_member_name(info.filename)
                if why:
                    state.add(ScanRule.ARCHIVE_TRAVERSAL, Severity.HIGH,
                              f"member {info.filename!r} would be extracted outside the target directory ({why})",
                              {"format": "7z", "member": info.filename, "why": why})
            if too_deep(state):
                return
            archive.extract(factory=cast(Any, _Factory(state)))
    except errors as exc:
        state.add(ScanRule.ARCHIVE_INVALID, Severity.MEDIUM, f"7z archive could not be read ({type(exc).__name__}: "
                  f"{str(exc)[:160]}); contents unverified", {"format": "7z"})

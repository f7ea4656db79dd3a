"""A small buffered reader over any binary stream, with exact reads, bounded line reads and cheap skips.

Parsers read attacker-chosen lengths; ``skip`` seeks when it can and otherwise discards in chunks, so skipping a
multi-GB tensor blob costs no memory.
"""

from __future__ import annotations

from typing import BinaryIO

CHUNK = 1 << 16


class Truncated(Exception):
    """The stream ended inside a structure."""


class ByteSource:
    def __init__(self, f: BinaryIO, *, start: int = 0) -> None:
        self._f = f
        self._buf = b""
        self._i = 0
        self.offset = start  # stream offset of the next unread byte
        self.consumed = 0
        try:
            self._seekable = bool(f.seekable())
        except (AttributeError, OSError, ValueError):
            self._seekable = False

    def _available(self) -> int:
        return len(self._buf) - self._i

    def _fill(self, n: int) -> bool:
        """Make at least ``n`` bytes available; False at end of stream."""
        while self._available() < n:
            chunk = self._f.read(max(CHUNK, n - self._available()))
            if not chunk:
                return False
            self._buf = self._buf[self._i:] + chunk
            self._i = 0
        return True

    def at_eof(self) -> bool:
        return not self._fill(1)

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self._buf[self._i:self._i + n]

    def byte(self) -> int:
        if self._i >= len(self._buf) and not self._fill(1):
            raise Truncated("end of data")
        b = self._buf[self._i]
        self._i += 1
        self.offset += 1
        return b

    def read(self, n: int) -> bytes:
        if n < 0:
            raise Truncated("negative length")
        if not self._fill(n):
            raise Truncated(f"needed {n} bytes, stream ended")
        out = self._buf[self._i:self._i + n]
        self._i += n
        self.offset += n
        return out

    def readline(self, maxlen: int = 1 << 16) -> bytes:
        """Bytes up to (not including) the next newline; Truncated if none within ``maxlen``."""
        while True:
            j = self._buf.find(b"\n", self._i)
            if j >= 0 and j - self._i <= maxlen:
                out = self._buf[self._i:j]
                self.offset += j + 1 - self._i
                self._i = j + 1
                return out
            if self._available() > maxlen:
                raise Truncated("line too long")
            if not self._fill(self._available() + 1):
                raise Truncated("stream ended inside a line")

    def skip(self, n: int) -> None:
        if n < 0:
            raise Truncated("negative length")
        avail = self._available()
        if n <= avail:
            self._i += n
            self.offset += n
            return
        self._i = len(self._buf)
        self.offset += avail
        rest = n - avail
        if self._seekable:
            try:
                here = self._f.tell()
                end = self._f.seek(0, 2)
                if here + rest > end:
                    self._f.seek(end)
                    self.offset += end - here
                    raise Truncated(f"needed {rest} more bytes, stream ended")
                self._f.seek(here + rest)
                self.offset += rest
                return
            except (OSError, ValueError):
                self._seekable = False
        while rest > 0:
            chunk = self._f.read(min(rest, 1 << 20))
            if not chunk:
                raise Truncated(f"needed {rest} more bytes, stream ended")
            rest -= len(chunk)
            self.offset += len(chunk)

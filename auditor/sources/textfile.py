"""Reading an input file as text the way pip does, with clear errors instead of tracebacks.

Why a helper: every parser needs the same rules (UTF-8 with or without BOM, UTF-16/32 with a BOM, a PEP 263
``coding:`` line, CRLF), and "this is a binary file" or "not valid UTF-8 at line N" must name the file (exit 2).
"""

from __future__ import annotations

import codecs
import re
import stat
from pathlib import Path

from auditor.errors import InputError

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
]
_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
MAX_INPUT_BYTES = 64 * 1024 * 1024  # a requirements file or lockfile larger than this is not one


def read_bytes(path: str) -> bytes:
    """The file's bytes, or ``InputError`` naming it (missing, a directory, not a regular file, unreadable,
    absurdly large). A FIFO or device would block the run for ever or never end: refused before it is opened."""
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError("is a directory, not an input file", file=path)
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError("not a regular file (a pipe, socket or device), not an input file", file=path)
        size = info.st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(f"file too large to be an input ({size} bytes)", file=path)
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except PermissionError:
        raise InputError("permission denied", file=path) from None
    except ValueError as exc:  # e.g. "embedded null byte" in the name
        raise InputError(f"invalid file name ({exc})", file=repr(path)[1:-1]) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from None


def decode_text(data: bytes, path: str) -> str:
    """Decode like pip's ``auto_decode``; normalise CRLF/CR to LF. Binary content is an ``InputError``."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _newlines(data[len(bom):].decode(encoding))
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid {encoding} text ({exc.reason})", file=path,
                                 line=_line_of(data, exc.start)) from None
    if b"\x00" in data:
        raise InputError("binary file (contains NUL bytes), not a text input", file=path)
    try:
        return _newlines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        declared = _declared_encoding(data)
        if declared:
            try:
                return _newlines(data.decode(declared))
            except (LookupError, UnicodeDecodeError):
                pass
        raise InputError(f"not valid UTF-8 text (byte 0x{data[exc.start]:02x})", file=path,
                         line=_line_of(data, exc.start)) from None


def read_text(path: str) -> str:
    return decode_text(read_bytes(path), path)


def _declared_encoding(data: bytes) -> str | None:
    for line in data.split(b"\n", 2)[:2]:
        m = _CODING_RE.match(line)
        if m:
            return m.group(1).decode("ascii", "replace")
    return None


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1

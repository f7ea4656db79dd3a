"""A minimal protobuf wire-format reader over a seekable file, for ONNX and TensorFlow graphs without either
library. Only the messages we descend into are read; every other length-delimited field is skipped by seeking,
so embedded weights never enter memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


class ProtoError(Exception):
    pass


@dataclass(frozen=True)
class Field:
    number: int
    wire: int
    value: int  # the varint/fixed value, or the length for LEN fields
    start: int  # payload start (LEN fields)


class ProtoFile:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def _varint(self, pos: int, end: int) -> tuple[int, int]:
        self.f.seek(pos)
        raw = self.f.read(min(10, end - pos))
        result = shift = 0
        for i, b in enumerate(raw):
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result, pos + i + 1
            shift += 7
        raise ProtoError(f"bad varint at offset {pos}")

    def fields(self, start: int, end: int) -> Iterator[Field]:
        """Fields of the message occupying ``[start, end)``; raises ProtoError on malformed input."""
        if end > self.size:
            raise ProtoError(f"message end {end} beyond the file ({self.size} bytes)")
        pos = start
        while pos < end:
            key, pos = self._varint(pos, end)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise ProtoError(f"field number 0 at offset {pos}")
            if wire == VARINT:
                value, pos = self._varint(pos, end)
                yield Field(number, wire, value, pos)
            elif wire == I64:
                pos += 8
                yield Field(number, wire, 0, pos)
            elif wire == I32:
                pos += 4
                yield Field(number, wire, 0, pos)
            elif wire == LEN:
                length, pos = self._varint(pos, end)
                if pos + length > end:
                    raise ProtoError(f"field {number} length {length} at offset {pos} runs past its message")
                yield Field(number, wire, length, pos)
                pos += length
            else:
                raise ProtoError(f"unsupported wire type {wire} at offset {pos}")
        if pos != end:
            raise ProtoError(f"message overruns its end at offset {pos}")

    def sub(self, fld: Field) -> Iterator[Field]:
        return self.fields(fld.start, fld.start + fld.value)

    def text(self, fld: Field, limit: int = 1 << 16) -> str:
        if fld.wire != LEN:
            raise ProtoError(f"field {fld.number} is not a string")
        self.f.seek(fld.start)
        return self.f.read(min(fld.value, limit)).decode("utf-8", "replace")

    def check_message(self, start: int, end: int) -> set[int]:
        """Field numbers of a whole message (validates its framing)."""
        return {fl.number for fl in self.fields(start, end)}

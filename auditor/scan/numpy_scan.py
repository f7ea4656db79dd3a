"""NumPy ``.npy``: a text header, then raw array bytes, except for object dtypes whose body is a pickle that
``np.load(allow_pickle=True)`` unpickles."""

from __future__ import annotations

import ast
import struct
from typing import Any, BinaryIO

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.pickle_scan import scan_pickle_stream
from auditor.scan.state import ScanState


def _has_object(descr: Any, depth: int = 0) -> bool:
    if depth > 20:
        return True
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_has_object(d, depth + 1) for d in descr)
    return False


def scan_npy(f: BinaryIO, state: ScanState) -> None:
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        state.add(ScanRule.NPY_INVALID, Severity.MEDIUM, "truncated .npy magic", {"format": "npy"})
        return
    major = magic[6]
    raw = f.read(2 if major == 1 else 4)
    if len(raw) < (2 if major == 1 else 4):
        state.add(ScanRule.NPY_INVALID, Severity.MEDIUM, "truncated .npy header", {"format": "npy"})
        return
    hlen = struct.unpack("<H" if major == 1 else "<I", raw)[0]
    if hlen > 1 << 20:
        state.add(ScanRule.NPY_INVALID, Severity.MEDIUM, f".npy header length {hlen} is implausible",
                  {"format": "npy"})
        return
    header_text = f.read(hlen).decode("latin-1")
    try:
        header = ast.literal_eval(header_text.strip())  # literals only: never evaluates code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        state.add(ScanRule.NPY_INVALID, Severity.MEDIUM, ".npy header is not a Python literal", {"format": "npy"})
        return
    descr = header.get("descr") if isinstance(header, dict) else None
    if not _has_object(descr):
        state.note_format("npy")
        return
    state.note_format("npy (object array: pickle)")
    before = len(state.collector.findings)
    scan_pickle_stream(f, state, "npy-object", base=10 + hlen if major == 1 else 12 + hlen)
    if len(state.collector.findings) == before:
        state.add(ScanRule.NPY_OBJECT, Severity.INFO,
                  "object-dtype array: its body is a pickle that np.load(allow_pickle=True) unpickles "
                  "(contents allow-listed)", {"format": "npy", "descr": str(descr)[:80]},
                  kind="pickle-model", fix="Store numeric arrays; avoid object dtypes.")

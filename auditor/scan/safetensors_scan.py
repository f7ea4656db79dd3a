"""safetensors: the safe format, as long as the header is what it claims to be.

Validates what the reference implementation validates (header length bound, JSON object, known dtypes, shapes,
``data_offsets`` inside the data area, sizes matching shape x dtype, no overlap, no holes) without reading the
tensor data. A valid file is recorded as a safe format; anything else is a finding, never an exception.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.state import ScanState

DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16,
              "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
              "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
RULE = ScanRule.SAFETENSORS_INVALID


def scan_safetensors(f: BinaryIO, state: ScanState, size: int | None) -> None:
    header: dict[str, Any] = {}
    problems = validate_safetensors(f, size, state.limits.max_header, header_out=header)
    _check_metadata(header.get("__metadata__"), state)
    if not problems:
        state.note_format("safetensors")
        return
    state.note_format("safetensors (invalid)")
    first = problems[0]
    state.add(RULE, Severity.HIGH,
              f"invalid safetensors header: {first}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
              + "; loaders may crash, allocate absurd amounts, or read aliased/foreign bytes",
              {"format": "safetensors", "problems": problems[:20]},
              fix="Do not load this file; re-export the weights with the safetensors library.")


def _check_metadata(meta: Any, state: ScanState) -> None:
    """``__metadata__`` is free-form text that some libraries instantiate (a Hydra config stored with the weights,
    the 2025 "remote code via model metadata" disclosures): targets in it are judged like any config."""
    from auditor.scan.configs import report_hits, walk_json

    if isinstance(meta, dict):
        report_hits(walk_json(meta), state, "safetensors-metadata")


def validate_safetensors(f: BinaryIO, size: int | None, max_header: int,
                         header_out: dict[str, Any] | None = None) -> list[str]:
    raw = f.read(8)
    if len(raw) < 8:
        return ["file shorter than the 8-byte header length"]
    (n,) = struct.unpack("<Q", raw)
    if n > max_header:
        return [f"header length {n} exceeds the {max_header}-byte limit"]
    if size is not None and n + 8 > size:
        return [f"header length {n} runs past the end of the file ({size} bytes)"]
    body = f.read(n)
    if len(body) < n:
        return [f"header length {n} runs past the end of the file"]
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for k, v in items:
            if k in seen:
                duplicates.append(k)
            seen[k] = v
        return seen

    try:
        header = json.loads(body.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return [f"header is not valid UTF-8 JSON ({type(exc).__name__}: {str(exc)[:120]})"]
    if duplicates:
        return [f"duplicate key {duplicates[0][:80]!r} in the header: readers disagree on which entry wins"]
    if not isinstance(header, dict):
        return ["header JSON is not an object"]
    if header_out is not None:
        header_out.update(header)
    data_len = (size - 8 - n) if size is not None else None
    return _check_entries(header, data_len)


def _check_entries(header: dict[str, Any], data_len: int | None) -> list[str]:
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in entry.items()):
                problems.append("__metadata__ is not a string-to-string map")
            continue
        label = repr(name[:80])
        if not isinstance(entry, dict):
            problems.append(f"tensor {label}: entry is not an object")
            continue
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            problems.append(f"tensor {label}: unknown dtype {str(dtype)[:20]!r}")
            continue
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            problems.append(f"tensor {label}: shape is not a list of non-negative integers")
            continue
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)):
            problems.append(f"tensor {label}: data_offsets is not [begin, end]")
            continue
        begin, end = offsets
        if begin > end:
            problems.append(f"tensor {label}: data_offsets begin {begin} > end {end}")
            continue
        count = 1
        for d in shape:
            count *= d
        nbytes, rem = divmod(count * DTYPE_BITS[dtype], 8)
        if rem or nbytes != end - begin:
            problems.append(f"tensor {label}: {end - begin} bytes in data_offsets, shape x dtype needs "
                            f"{nbytes if not rem else 'a non-integral number of'}")
        if data_len is not None and end > data_len:
            problems.append(f"tensor {label}: data_offsets end {end} beyond the data area ({data_len} bytes)")
        spans.append((begin, end, label))
    spans.sort()
    cursor = 0
    for begin, end, label in spans:
        if begin < cursor:
            problems.append(f"tensor {label}: bytes {begin}-{end} overlap another tensor")
        elif begin > cursor:
            problems.append(f"tensor {label}: hole of {begin - cursor} bytes before it")
        cursor = max(cursor, end)
    if data_len is not None and spans and cursor < data_len and not problems:
        problems.append(f"{data_len - cursor} bytes after the last tensor are not described by the header")
    return problems

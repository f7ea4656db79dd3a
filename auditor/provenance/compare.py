"""Comparing a published wheel with a rebuilt one, file by file.

Why three outcomes: byte-identical archives are the strongest claim; archives whose members are identical but
whose zip metadata differs (timestamps, order, compression, permissions) are just as trustworthy for what gets
installed; anything else lists the differing members, with a unified diff for text files so a reviewer sees at
once whether a difference is a build timestamp or injected code.
"""

from __future__ import annotations

import difflib
import hashlib
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import zipfile

IDENTICAL = "identical"
IDENTICAL_CONTENT = "identical-content"
DIFFERS = "differs"
MAX_DIFF_FILES = 20
MAX_DIFF_LINES = 200
MAX_TEXT_BYTES = 2_000_000


@dataclass
class Comparison:
    result: str
    only_original: list[str] = field(default_factory=list)
    only_rebuilt: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    metadata_only: list[str] = field(default_factory=list)  # same bytes, different zip entry metadata
    diffs: dict[str, str] = field(default_factory=dict)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # changed file -> {published, rebuilt} sha256
    files: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"result": self.result, "files": self.files, "only_original": self.only_original,
                "only_rebuilt": self.only_rebuilt, "changed": self.changed, "metadata_only": self.metadata_only,
                "diffs": dict(self.diffs), "digests": {k: dict(v) for k, v in self.digests.items()}}


def member_digests(data: bytes) -> dict[str, str]:
    """sha256 of every file in a wheel (directories left out)."""
    import zipfile  # here: the module is imported by every audit (repro results are read), archives only by repro

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: hashlib.sha256(zf.read(i)).hexdigest() for i in zf.infolist() if not i.is_dir()}


def _entry_meta(info: zipfile.ZipInfo) -> tuple[Any, ...]:
    return (info.date_time, info.compress_type, info.external_attr, info.extra, info.comment)


def compare_wheels(original: bytes, rebuilt: bytes) -> Comparison:
    import zipfile

    if hashlib.sha256(original).digest() == hashlib.sha256(rebuilt).digest():
        return Comparison(IDENTICAL, files=len(member_digests(original)))
    with zipfile.ZipFile(io.BytesIO(original)) as zo, zipfile.ZipFile(io.BytesIO(rebuilt)) as zr:
        o_infos = {i.filename: i for i in zo.infolist() if not i.is_dir()}
        r_infos = {i.filename: i for i in zr.infolist() if not i.is_dir()}
        o_data = {name: zo.read(info) for name, info in o_infos.items()}
        r_data = {name: zr.read(info) for name, info in r_infos.items()}
    out = Comparison(IDENTICAL_CONTENT, files=len(o_infos))
    out.only_original = sorted(set(o_infos) - set(r_infos))
    out.only_rebuilt = sorted(set(r_infos) - set(o_infos))
    for name in sorted(set(o_infos) & set(r_infos)):
        if o_data[name] != r_data[name]:
            out.changed.append(name)
            out.digests[name] = {"published": hashlib.sha256(o_data[name]).hexdigest(),
                                 "rebuilt": hashlib.sha256(r_data[name]).hexdigest()}
            if len(out.diffs) < MAX_DIFF_FILES:
                diff = text_diff(name, o_data[name], r_data[name])
                if diff is not None:
                    out.diffs[name] = diff
        elif _entry_meta(o_infos[name]) != _entry_meta(r_infos[name]):
            out.metadata_only.append(name)
    if out.only_original or out.only_rebuilt or out.changed:
        out.result = DIFFERS
    return out


def text_diff(name: str, before: bytes, after: bytes) -> str | None:
    """A unified diff when both sides are UTF-8 text without NUL bytes, else None (binary)."""
    if len(before) > MAX_TEXT_BYTES or len(after) > MAX_TEXT_BYTES or b"\0" in before or b"\0" in after:
        return None
    try:
        a, b = before.decode("utf-8"), after.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = list(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                      fromfile=f"published/{name}", tofile=f"rebuilt/{name}"))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... ({len(lines) - MAX_DIFF_LINES} more diff lines)\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

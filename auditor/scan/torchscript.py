"""TorchScript archives (``torch.jit.save``): what ``torch.jit.load`` runs beyond the pickles.

The archive's pickles (``data.pkl``, ``constants.pkl``) are scanned like any pickle; TorchScript's own names in
them (``torch.jit._pickle.build_*``, ``__torch__.*`` classes) are the archive's own, compiled from its ``code/``
members. Those members are TorchScript, a statically typed subset of Python that cannot import modules, so the
risk they carry is native code: operators and classes outside PyTorch's own namespaces
(``torch.ops.<ns>.<op>``, ``torch.classes.<ns>.<cls>``) only run when a library registering them is loaded, and
that library is arbitrary native code the user must trust. They are reported; the archive itself is an info note.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.state import ScanState
from auditor.scan.ziploader import Member, MemberError, open_member

# Operator namespaces registered by PyTorch itself and its first-party domain libraries.
STANDARD_OP_NAMESPACES = frozenset({
    "aten", "prim", "prims", "quantized", "_quantized", "prepacked", "profiler", "cuda", "mkldnn", "mkl", "xnnpack",
    "onednn", "sparse", "_nested", "fbgemm", "quantized_decomposed", "_c10d_functional", "c10d_functional",
    "_dtensor", "_caffe2", "torchvision", "torchaudio", "torchtext", "image", "_torchvision", "debugprims",
    "inductor", "higher_order", "_inductor_test", "cpu", "_test",
})
_OPS = re.compile(rb"\bops\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")
_CLASSES = re.compile(rb"\bclasses\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")
MAX_CODE_BYTES = 32 << 20
# TorchScript builtins that touch the file system: torch.save writes a pickle to a path, torch.from_file maps (and
# with shared=True writes) a file. TorchScript cannot import, so these are its only routes to files.
_FILE_CALLS = re.compile(rb"\b(?:torch\.(save|from_file|load)|ops\.aten\.(save|from_file))\s*\(")
_DEF = re.compile(rb"^(\s*)def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", re.M)
_STRING = re.compile(rb"\"([^\"\\\n]{1,300})\"|'([^'\\\n]{1,300})'")


def _code_members(members: list[Member]) -> list[Member]:
    return [m for m in members if not m.is_dir and "code/" in m.name and m.name.endswith(".py")]


def _file_calls(text: bytes, member: str, state: ScanState) -> None:
    """File writes/reads in TorchScript code; in ``__setstate__`` they run during ``torch.jit.load`` itself."""
    defs = [(m.start(), m.group(2).decode()) for m in _DEF.finditer(text)]
    seen: set[tuple[str, str]] = set()
    for hit in _FILE_CALLS.finditer(text):
        call = "torch." + (hit.group(1) or hit.group(2)).decode()
        enclosing = next((name for start, name in reversed(defs) if start < hit.start()), "<module>")
        if (call, enclosing) in seen:
            continue
        seen.add((call, enclosing))
        line_end = text.find(b"\n", hit.end())
        literal = _STRING.search(text, hit.end(), line_end if line_end >= 0 else len(text))
        path = (literal.group(1) or literal.group(2)).decode("utf-8", "replace") if literal else None
        on_load = enclosing == "__setstate__"
        effect = "writes a file" if call.endswith("save") else "reads (or maps) a file"
        state.add(ScanRule.TORCHSCRIPT_FILE_ACCESS, Severity.CRITICAL if on_load else Severity.HIGH,
                  f"TorchScript code calls {call}() in {enclosing}()"
                  f"{f' with the path {path!r}' if path else ''}: it {effect} "
                  + ("while torch.jit.load restores the module" if on_load else "when the model runs"),
                  {"format": "torchscript", "callable": call, "function": enclosing, "member": member,
                   "location": path},
                  fix="Do not load this model; TorchScript in a model file has no reason to touch files.")


def check_torchscript(f: BinaryIO, size: int, members: list[Member], state: ScanState) -> None:
    code = _code_members(members)
    custom: dict[str, set[str]] = {}
    budget = MAX_CODE_BYTES
    unread: list[str] = []
    for m in code:
        if budget <= 0:
            unread.append(m.name)
            continue
        try:
            text = open_member(f, m, size).read(min(budget, m.file_size or budget))
        except (MemberError, OSError, ValueError, EOFError) as exc:
            unread.append(f"{m.name} ({exc})")
            continue
        budget -= len(text)
        _file_calls(text, m.name, state)
        for kind, rx in (("op", _OPS), ("class", _CLASSES)):
            for ns, name in rx.findall(text):
                namespace = ns.decode()
                if namespace not in STANDARD_OP_NAMESPACES:
                    custom.setdefault(namespace, set()).add(f"{kind}:{namespace}.{name.decode()}")
    for namespace, uses in sorted(custom.items()):
        state.add(ScanRule.TORCHSCRIPT_CUSTOM_OP, Severity.MEDIUM,
                  f"TorchScript code uses operators/classes of the namespace {namespace!r} "
                  f"({', '.join(sorted(uses)[:5])}): running the model needs a native library that registers them",
                  {"format": "torchscript", "namespace": namespace, "uses": sorted(uses)[:20]},
                  fix="Only load this model with the extension library from a source you trust.")
    if unread:
        state.add(ScanRule.SCAN_UNVERIFIED, Severity.MEDIUM, f"{len(unread)} TorchScript code member(s) could not be "
                  "read; their operators are unverified", {"format": "torchscript", "members": unread[:20]})
    state.add(ScanRule.TORCHSCRIPT, Severity.INFO,
              "TorchScript archive: torch.jit.load compiles and runs the TorchScript code it contains (a typed "
              "subset of Python without imports; its operators were checked)",
              {"format": "torchscript", "code_members": [m.name for m in code][:20]}, kind="pickle-model",
              fix="Prefer weights in safetensors plus model code from a trusted package.")

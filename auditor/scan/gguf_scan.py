"""GGUF (llama.cpp): parse the header, metadata and tensor table with bounds; inspect chat templates.

The weights themselves are data, but ``tokenizer.chat_template`` is a Jinja2 program that runtimes render
(llama-cpp-python rendered it without a sandbox: CVE-2024-34359). Templates are parsed with Jinja2's parser
(never rendered) and searched for the classic server-side template injection routes into Python internals.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.state import ScanState
from auditor.scan.stream import ByteSource, Truncated

_SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4), 6: ("<f", 4),
            7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
STRING, ARRAY = 8, 9


class GGUFError(Exception):
    pass


def parse_gguf(f: BinaryIO, size: int | None, state: ScanState) -> dict[str, Any]:
    """Header facts plus the string metadata values worth inspecting (templates); raises GGUFError."""
    lim = state.limits
    src = ByteSource(f)
    try:
        if src.read(4) != b"GGUF":
            raise GGUFError("missing GGUF magic")
        version = struct.unpack("<I", src.read(4))[0]
        if version not in (1, 2, 3):
            raise GGUFError(f"unsupported GGUF version {version}")
        wide = version >= 2
        n_tensors = struct.unpack("<Q" if wide else "<I", src.read(8 if wide else 4))[0]
        n_kv = struct.unpack("<Q" if wide else "<I", src.read(8 if wide else 4))[0]
        remaining = (size if size is not None else 1 << 62)
        if n_kv > lim.max_gguf_kv or n_kv > remaining:
            raise GGUFError(f"metadata count {n_kv} is impossible for the file size")
        if n_tensors > remaining:
            raise GGUFError(f"tensor count {n_tensors} is impossible for the file size")

        def read_str(keep: bool) -> str | None:
            n = struct.unpack("<Q" if wide else "<I", src.read(8 if wide else 4))[0]
            if size is not None and n > size:
                raise GGUFError(f"string length {n} at offset {src.offset} exceeds the file size")
            if not keep or n > lim.max_gguf_string:
                src.skip(n)
                return None
            return src.read(n).decode("utf-8", "replace")

        def read_value(vtype: int, keep: bool, depth: int = 0) -> Any:
            if vtype in _SCALARS:
                fmt, width = _SCALARS[vtype]
                return struct.unpack(fmt, src.read(width))[0]
            if vtype == STRING:
                return read_str(keep)
            if vtype == ARRAY:
                if depth > 4:
                    raise GGUFError("arrays nested too deeply")
                itype = struct.unpack("<I", src.read(4))[0]
                count = struct.unpack("<Q" if wide else "<I", src.read(8 if wide else 4))[0]
                if count > lim.max_gguf_array or (size is not None and count > size):
                    raise GGUFError(f"array of {count} items at offset {src.offset} exceeds the file size/limit")
                if itype in _SCALARS:
                    src.skip(count * _SCALARS[itype][1])
                    return None
                for _ in range(count):
                    read_value(itype, False, depth + 1)
                return None
            raise GGUFError(f"unknown metadata value type {vtype} at offset {src.offset}")

        meta: dict[str, Any] = {}
        templates: dict[str, str] = {}
        for _ in range(n_kv):
            key = read_str(True) or ""
            vtype = struct.unpack("<I", src.read(4))[0]
            keep = vtype != ARRAY
            value = read_value(vtype, keep)
            if key.startswith("tokenizer.chat_template") and isinstance(value, str):
                templates[key] = value
            elif isinstance(value, (int, float)) or (isinstance(value, str) and len(value) < 200):
                meta[key] = value
        alignment = meta.get("general.alignment", 32)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFError(f"general.alignment {alignment!r} is not a power of two")
        tensors: list[tuple[str, int, int]] = []
        for _ in range(n_tensors):
            name = read_str(True) or ""
            n_dims = struct.unpack("<I", src.read(4))[0]
            if n_dims > 8:
                raise GGUFError(f"tensor {name[:60]!r} has {n_dims} dimensions")
            src.skip(n_dims * (8 if wide else 4))
            ttype = struct.unpack("<I", src.read(4))[0]
            offset = struct.unpack("<Q", src.read(8))[0]
            tensors.append((name, ttype, offset))
        data_start = -(-src.offset // alignment) * alignment
        if size is not None:
            for name, _t, offset in tensors:
                if data_start + offset > size:
                    raise GGUFError(f"tensor {name[:60]!r} offset {offset} lies beyond the end of the file")
        return {"version": version, "tensors": n_tensors, "metadata": n_kv, "templates": templates,
                "architecture": meta.get("general.architecture")}
    except Truncated as exc:
        raise GGUFError(f"truncated at offset {src.offset}: {exc}") from exc
    except struct.error as exc:
        raise GGUFError(f"malformed at offset {src.offset}: {exc}") from exc


def scan_gguf(f: BinaryIO, state: ScanState, size: int | None) -> None:
    try:
        info = parse_gguf(f, size, state)
    except GGUFError as exc:
        state.note_format("gguf (invalid)")
        state.add(ScanRule.GGUF_INVALID, Severity.MEDIUM, f"malformed GGUF: {exc}",
                  {"format": "gguf", "error": str(exc)},
                  fix="Do not load this file; re-download or re-convert the model.")
        return
    state.note_format("gguf")
    for key, template in info["templates"].items():
        for hit in template_issues(template):
            state.add(ScanRule.GGUF_TEMPLATE, hit.severity,
                      f"chat template {key} {hit.what}: rendering it can run code in runtimes that use an "
                      "unsandboxed Jinja2 environment", {"format": "gguf", "key": key, **hit.evidence},
                      fix="Do not use this model's chat template; replace it with a reviewed template.")


# -- Jinja2 template inspection -----------------------------------------------------------------------------
_RISKY_GLOBALS = {"cycler", "joiner", "lipsum", "self", "config", "request", "url_for", "get_flashed_messages",
                  "os", "subprocess", "__builtins__", "builtins", "import", "eval", "exec"}
_DANGER_WORDS = re.compile(r"__\w+__|\\x5f|\\u005f|\\137|\b(?:popen|subprocess|import_module|getattr|globals|"
                           r"builtins|subclasses|mro)\b|\b(?:system|eval|exec)\s*\(|\|\s*attr\s*\(|\bos\s*\.")


def _environment() -> Any:
    """A parser that accepts what chat-template renderers accept: transformers renders with the loop controls
    (``{% break %}``) and its ``{% generation %}`` block; ``{% do %}`` is common in llama.cpp-era templates."""
    import jinja2
    from jinja2.ext import Extension

    class _Generation(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    return jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", _Generation])


@dataclass(frozen=True)
class TemplateIssue:
    """One risky construct of a chat template: the finding's severity, what it does, and its evidence (the
    construct and where; ``parse_error`` when the template did not parse and was judged by its text alone)."""

    severity: Severity
    what: str
    evidence: dict[str, str | int]

    @property
    def parsed(self) -> bool:
        return "parse_error" not in self.evidence


def template_issues(template: str) -> list[TemplateIssue]:
    """Findings for one template (empty for ordinary chat templates)."""
    hits: list[TemplateIssue] = []
    try:
        from jinja2 import nodes

        ast = _environment().parse(template)
    except Exception as exc:  # any template the parser rejects is judged by its text alone
        for m in list(_DANGER_WORDS.finditer(template))[:5]:
            hits.append(TemplateIssue(Severity.HIGH, f"contains {m.group(0)!r} (unparseable template)",
                                      {"construct": m.group(0), "position": m.start(), "parse_error": str(exc)[:200]}))
        return hits
    seen: set[str] = set()

    def hit(sev: Severity, what: str, construct: str, lineno: int) -> None:
        if construct in seen:
            return
        seen.add(construct)
        hits.append(TemplateIssue(sev, what, {"construct": construct, "line": lineno}))

    for stmt in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        kind = type(stmt).__name__.lower()
        hit(Severity.HIGH, f"loads other templates ({kind}): with a file-system loader this reads local files",
            kind, getattr(stmt, "lineno", 0))
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter, nodes.Const)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            hit(Severity.CRITICAL, f"reads the private attribute .{node.attr}", f".{node.attr}", line)
        elif isinstance(node, nodes.Getitem):
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value.startswith("_"):
                hit(Severity.CRITICAL, f"reads the private attribute [{arg.value!r}]", f"[{arg.value!r}]", line)
            elif not isinstance(arg, (nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem, nodes.BinExpr,
                                      nodes.UnaryExpr, nodes.Slice, nodes.CondExpr)):
                hit(Severity.HIGH, "looks up an attribute/item by a computed string", "computed item lookup", line)
        elif isinstance(node, nodes.Name) and node.name in _RISKY_GLOBALS and node.ctx == "load":
            hit(Severity.CRITICAL if node.name in ("cycler", "joiner", "lipsum", "self", "os", "__builtins__")
                else Severity.HIGH, f"uses the global {node.name!r} (a route to Python internals)", node.name, line)
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            hit(Severity.CRITICAL, "uses the |attr filter (attribute access by string)", "|attr", line)
        elif isinstance(node, nodes.Filter) and node.name in ("map", "select", "reject", "selectattr", "rejectattr",
                                                               "sort", "groupby", "sum", "unique") and any(
                isinstance(a, nodes.Const) and isinstance(a.value, str) and (a.value == "attr" or a.value.startswith("_"))
                for a in [*node.args, *(kw.value for kw in node.kwargs)]):
            hit(Severity.CRITICAL, f"uses |{node.name} to reach attributes by string", f"|{node.name}(attr)", line)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str) and (
                "__" in node.value or re.search(r"\b(?:popen|subprocess|os\.system)\b", node.value)):
            hit(Severity.HIGH, f"builds the string {node.value[:40]!r} (dunder/command)", f"'{node.value[:40]}'",
                line)
    return hits

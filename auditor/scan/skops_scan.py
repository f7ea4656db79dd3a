"""skops files (``skops.io.dump``): a zip with ``schema.json`` describing every object to rebuild.

``skops.io.load`` refuses types outside its trusted set unless the caller lists them (``trusted=...``); in
practice callers pass ``get_untrusted_types(file=...)`` straight back, so those types are what the file makes the
loader import and call. This reimplements that idea without importing skops: every node of the schema names a
type (``__module__`` + ``__class__``) and how it is rebuilt (``__loader__``); scikit-learn's, NumPy's, SciPy's and
skops' own types and plain builtins containers are trusted, a function node is trusted only for NumPy/SciPy
ufuncs, and everything else is listed with a severity by what it is (the pickle allow-list decides: process,
file, network and import machinery is critical).
"""

from __future__ import annotations

import json
from typing import Any

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.allowlist import DANGEROUS, LOCAL, SAFE, classify
from auditor.scan.state import ScanState

TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "skops.")
TRUSTED_BUILTINS = frozenset({"int", "float", "str", "bool", "complex", "bytes", "bytearray", "list", "set",
                              "frozenset", "tuple", "dict", "map", "slice", "NoneType", "type"})
_FUNCTION_LOADERS = frozenset({"FunctionNode", "MethodNode", "OperatorFuncNode", "PartialNode"})
_FUNCTION_TRUSTED = ("numpy.", "scipy.special.", "scipy.stats.", "numpy")
_MAX_NODES = 1_000_000


def _trusted(module: str, cls: str, loader: str) -> bool:
    if loader in _FUNCTION_LOADERS and loader != "PartialNode":
        return module.startswith(_FUNCTION_TRUSTED) and loader == "FunctionNode"
    if module == "builtins":
        return cls in TRUSTED_BUILTINS
    if module == "collections" and cls in ("OrderedDict", "defaultdict"):
        return True
    if module == "functools" and cls == "partial":
        return True  # its function is a node of its own, judged separately
    return f"{module}.".startswith(TRUSTED_MODULE_PREFIXES)


def untrusted_types(schema: Any) -> list[tuple[str, str, str]]:
    """(qualified name, loader, schema path) of every type a load of this schema needs trust for."""
    found: dict[str, tuple[str, str, str]] = {}
    stack: list[tuple[Any, str]] = [(schema, "")]
    seen = 0
    while stack:
        node, where = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            break
        if isinstance(node, dict):
            module, cls, loader = node.get("__module__"), node.get("__class__"), node.get("__loader__")
            if isinstance(module, str) and isinstance(cls, str):
                loader = loader if isinstance(loader, str) else "?"
                if loader == "MethodNode":
                    content = node.get("content")
                    func = content.get("func") if isinstance(content, dict) else None
                    qual = f"{module}.{cls}.{func}" if isinstance(func, str) else f"{module}.{cls}"
                    found.setdefault(qual, (qual, loader, where or "/"))
                elif not _trusted(module, cls, loader):
                    qual = f"{module}.{cls}"
                    found.setdefault(qual, (qual, loader, where or "/"))
            for k, v in node.items():
                if k not in ("__module__", "__class__", "__loader__"):
                    stack.append((v, f"{where}/{k}"))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))
    return list(found.values())


def scan_skops_schema(text: bytes, state: ScanState) -> None:
    try:
        schema = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        state.add(ScanRule.SKOPS_INVALID, Severity.MEDIUM, f"skops schema.json could not be parsed ({str(exc)[:120]}); "
                  "the types a load needs are unverified", {"format": "skops"})
        state.gap("skops schema.json not parsed: the types it loads were not checked")
        return
    types = untrusted_types(schema)
    if not types:
        return
    worst = Severity.LOW
    rated: list[dict[str, str]] = []
    for qual, loader, where in types:
        module, _, name = qual.rpartition(".")
        verdict = classify(module, name)
        first = classify(qual.split(".", 1)[0], qual.split(".", 1)[1] if "." in qual else qual)
        if verdict.level == DANGEROUS or first.level == DANGEROUS:
            sev = Severity.CRITICAL
        elif loader == "MethodNode" or loader in _FUNCTION_LOADERS:
            sev = Severity.HIGH  # a function or method is called by whatever object uses it
        elif verdict.level in (SAFE, LOCAL):
            # a data type the pickle allow-list knows, or a class of the loading script itself (``__main__``):
            # the file carries no code for it, as for MLA-PICKLE-LOCAL-CLASS
            sev = Severity.LOW
        else:
            sev = Severity.MEDIUM
        if sev.rank > worst.rank:
            worst = sev
        rated.append({"type": qual, "loader": loader, "schema_path": where, "severity": sev.value,
                      "why": verdict.reason if verdict.level == DANGEROUS else first.reason})
    rated.sort(key=lambda r: -Severity(r["severity"]).rank)
    top = rated[0]
    state.add(ScanRule.SKOPS_UNTRUSTED, worst,
              f"skops file needs {len(rated)} untrusted type(s) to load ({', '.join(r['type'] for r in rated[:5])}"
              f"{', ...' if len(rated) > 5 else ''}); passing them to skops.io.load(trusted=...) imports and runs "
              f"them ({top['why']})",
              {"format": "skops", "callable": top["type"], "untrusted_types": rated[:50]},
              fix="Do not pass these types to skops.io.load(trusted=...) unless each is reviewed.")

"""Turn what the simulated unpickler saw into findings, for raw pickles and every format built on pickle
(PyTorch zip/legacy, NumPy object arrays, joblib, dill, paddle).

Decision rule: an import on the allow-list is silent; an import that is known code-execution, file, network or
import machinery is critical whether or not it is called; anything else is suspicious (medium when only
imported or instantiated, high when called). Calls of values that are not plain imports (``getattr(...)(...)``,
methods of rebuilt objects, extension-registry codes) and ``BUILD`` on classes are flagged as dynamic.

Severity follows the effect a load has. A record class of an I/O library (``allowlist.DATA_CLASS_RULES``:
``requests.models.Response``, ``http.cookiejar.DefaultCookiePolicy``, ...) lives in a "network" module but
rebuilding it opens nothing: its import is judged by its *use*, once the pickle has been read. Reconstructed
through the default object path (``NEWOBJ``/``NEWOBJ_EX``, or ``REDUCE`` of ``copyreg._reconstructor`` /
``copyreg.__newobj__``, then ``BUILD`` of its saved state) it is data and gets no finding; *called* in any other
way it keeps the module's verdict (critical for ``requests``/``http``), as does ``BUILD`` on the class itself. A
call of a function with effects (``requests.get``, ``socket.create_connection``) is never a record: it is not a
CamelCase class of a listed module. An unknown class that is only reconstructed stays medium, said as such
("reconstructed as data": its own ``__setstate__`` runs, no constructor); an unknown callable called is high.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.allowlist import (
    DANGEROUS,
    LOCAL,
    NESTED_LOADERS,
    UNKNOWN,
    DataClassRule,
    Verdict,
    classify,
    data_class,
    normalise,
    plain_data,
)
from auditor.scan.pickle_reader import (
    UNBOUNDED,
    UNRESOLVED,
    Blob,
    Call,
    Event,
    Ext,
    Global,
    LimitReached,
    Opaque,
    PersId,
    PickleError,
    PickleResult,
    SimDict,
    SimList,
    SimSet,
    read_pickle,
)
from auditor.scan.state import ScanState
from auditor.scan.stream import ByteSource, Truncated

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
PICKLE_OPCODES = frozenset(b"(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89"
                           b"\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98BCG")
_MAX_OFFSETS = 20
_MAX_DISTINCT = 500  # distinct (rule, callable) findings per file before the rest is summarised
_JOBLIB_WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper",
                              "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"})


def render(value: Any, depth: int = 3, limit: int = 160) -> str:
    """A short, bounded, printable description of a simulated value (for evidence)."""
    text = _render(value, depth)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _render(value: Any, depth: int) -> str:
    if depth <= 0:
        return "..."
    if isinstance(value, Global):
        return value.qualname
    if isinstance(value, Call):
        return f"{_render(value.func, depth - 1)}({_render_args(value.args, depth - 1)})"
    if isinstance(value, tuple):
        inner = ", ".join(_render(v, depth - 1) for v in value[:6])
        return f"({inner}{', ...' if len(value) > 6 else ''}{',' if len(value) == 1 else ''})"
    if isinstance(value, SimList):
        return "[" + ", ".join(_render(v, depth - 1) for v in value.items[:6]) + (", ...]" if len(value.items) > 6 else "]")
    if isinstance(value, SimDict):
        return "{" + ", ".join(f"{_render(k, depth - 1)}: {_render(v, depth - 1)}" for k, v in value.items[:6]) + (
            ", ...}" if len(value.items) > 6 else "}")
    if isinstance(value, SimSet):
        return "{" + ", ".join(_render(v, depth - 1) for v in value.items[:6]) + "}"
    if isinstance(value, Blob):
        return f"<{value.length} {value.kind}>"
    if isinstance(value, PersId):
        return f"persistent_load({_render(value.pid, depth - 1)})"
    if isinstance(value, Ext):
        return f"<extension code {value.code}>"
    if isinstance(value, Opaque):
        return f"<{value.what}>"
    if isinstance(value, (str, bytes)):
        return repr(value[:80]) + ("..." if len(value) > 80 else "")
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return f"{_render(value[1], depth - 1)}.{value[0]}"
    return repr(value)[:80]


def _render_args(args: Any, depth: int) -> str:
    if isinstance(args, tuple):
        return ", ".join(_render(a, depth) for a in args[:6])
    return _render(args, depth)


# Callables that rebuild an object of the class given as their first argument without calling its constructor.
_RECONSTRUCTORS = frozenset({"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"})
_RECONSTRUCT_OPCODES = frozenset({"NEWOBJ", "NEWOBJ_EX"})


@dataclass
class _Deferred:
    """The import of a record class, judged when its use is known (``DATA_CLASS_RULES``)."""

    rule: DataClassRule
    verdict: Verdict
    opcode: str
    offset: int
    where: dict[str, Any]
    only_dangerous: bool


@dataclass
class _Agg:
    rule: str
    severity: Severity
    message: str
    evidence: dict[str, object]
    offsets: list[int] = field(default_factory=list)


class PickleAnalysis:
    """Collects the findings of one file's pickles, merged per rule and callable."""

    def __init__(self, state: ScanState, fmt: str) -> None:
        self.state = state
        self.fmt = fmt
        self._aggs: dict[tuple[str, str], _Agg] = {}
        self.overflow = 0
        self.overflow_severity = Severity.INFO
        self.first: PickleResult | None = None  # the reading of the stream's first pickle
        self._records: dict[str, _Deferred] = {}  # record classes imported, finding held back until misused
        self._reconstructed: set[str] = set()  # unknown classes rebuilt through the default object path
        self._called: set[str] = set()  # unknown callables called as functions

    def _add(self, rule: str, severity: Severity, key: str, message: str, evidence: dict[str, object],
             offset: int) -> None:
        agg = self._aggs.get((rule, key))
        if agg is None and len(self._aggs) >= _MAX_DISTINCT:
            self.overflow += 1
            if severity.rank > self.overflow_severity.rank:
                self.overflow_severity = severity
            return
        if agg is None:
            agg = _Agg(rule, severity, message, {"format": self.fmt, **evidence})
            self._aggs[(rule, key)] = agg
        elif severity.rank > agg.severity.rank:
            agg.severity, agg.message = severity, message
            agg.evidence.update(evidence)
        if len(agg.offsets) < _MAX_OFFSETS and offset not in agg.offsets:
            agg.offsets.append(offset)

    def flush(self) -> int:
        for (rule, key), agg in self._aggs.items():
            if rule == ScanRule.PICKLE_UNKNOWN_GLOBAL and key in self._reconstructed and key not in self._called \
                    and agg.severity is Severity.MEDIUM:
                agg.message = (f"loading rebuilds an object of {key}, a class not on the allow-list, as data "
                               "(object.__new__ and its saved state, no constructor call): the class must be "
                               "importable where the file is loaded, and its own __setstate__, if it defines one, "
                               "runs")
                agg.evidence["reconstructed"] = True
                agg.evidence.pop("called", None)  # NEWOBJ allocates; no constructor of the class is called
        self._records.clear()
        self._reconstructed.clear()
        self._called.clear()
        for agg in self._aggs.values():
            agg.evidence["offsets"] = agg.offsets
            agg.evidence.setdefault("offset", agg.offsets[0] if agg.offsets else None)
            self.state.add(agg.rule, agg.severity, agg.message, agg.evidence)
        n = len(self._aggs)
        if self.overflow:
            self.state.add(ScanRule.PICKLE_LIMIT, max(self.overflow_severity, Severity.MEDIUM, key=lambda s: s.rank),
                           f"{self.overflow} further problems with other callables were not itemised (more than "
                           f"{_MAX_DISTINCT} distinct ones in one file)", {"format": self.fmt,
                                                                           "not_itemised": self.overflow})
        self._aggs.clear()
        self.overflow = 0
        return n

    # -- events --------------------------------------------------------------------------------------------
    def events(self, result: PickleResult, *, index: int, base: int, only_dangerous: bool = False,
               nested_depth: int = 0) -> None:
        sink = self.sink(index=index, base=base, only_dangerous=only_dangerous, nested_depth=nested_depth)
        for ev in result.events:
            sink(ev)

    def sink(self, *, index: int = 0, base: int = 0, only_dangerous: bool = False,
             nested_depth: int = 0) -> Callable[[Event], None]:
        """An event handler for ``read_pickle(sink=...)``: findings are aggregated while the stream is read."""
        where: dict[str, Any] = {"pickle_index": index} if index else {}
        if nested_depth:
            where["nested"] = nested_depth

        def handle(ev: Event) -> None:
            self._event(ev, where, base, only_dangerous, nested_depth)
        return handle

    def _event(self, ev: Event, where: dict[str, Any], base: int, only_dangerous: bool, nested_depth: int) -> None:
        off = base + ev.offset
        if ev.kind == "import":
            g: Global = ev.target
            verdict = classify(g.module, g.name)
            if not plain_data(g.module, g.name):
                self.state.collector.note_object_import(verdict.qualname)
            record = data_class(g.module, g.name)
            if record is not None and verdict.level in (DANGEROUS, UNKNOWN):
                self._records.setdefault(verdict.qualname, _Deferred(record, verdict, ev.opcode, off, where,
                                                                     only_dangerous))
                return  # judged by its use (``_call``/``_build``): a record rebuilt as data runs nothing
            self._import_finding(verdict, ev.opcode, off, where, only_dangerous)
        elif ev.kind == "unresolved-import":
            self.state.collector.note_object_import("<unresolved import>")
            self._add(ScanRule.PICKLE_LIMIT, Severity.MEDIUM, "unresolved-import",
                      f"{ev.opcode} at offset {off} imports a name whose strings were dropped by the analysis memory "
                      "bound; that import is unverified", {"opcode": ev.opcode, **where}, off)
        elif ev.kind == "dynamic-import":
            self.state.collector.note_object_import("<dynamic import>")
            self._add(ScanRule.PICKLE_DYNAMIC, Severity.CRITICAL, "dynamic-import",
                      f"{ev.opcode} at offset {off} imports a name computed at load time "
                      f"({render(ev.target)}), which hides the callable from scanners",
                      {"opcode": ev.opcode, "operands": render(ev.target), **where}, off)
        elif ev.kind == "call":
            self._call(ev, where, off, only_dangerous, nested_depth)
        elif ev.kind == "build":
            self._build(ev, where, off)
        elif ev.kind == "ext" and not only_dangerous:
            self.state.collector.note_object_import("<extension code>")
            code = ev.target.code if isinstance(ev.target, Ext) else ev.target
            self._add(ScanRule.PICKLE_EXT, Severity.HIGH, f"ext{code}",
                      f"{ev.opcode} at offset {off} imports whatever extension code {code} is registered to in the "
                      "loading process (copyreg); not resolvable statically",
                      {"opcode": ev.opcode, "ext_code": code, **where}, off)

    def _import_finding(self, verdict: Verdict, opcode: str, off: int, where: dict[str, Any],
                        only_dangerous: bool) -> None:
        if verdict.level == DANGEROUS:
            self._add(ScanRule.PICKLE_EXEC, Severity.CRITICAL, verdict.qualname,
                      f"loading imports {verdict.qualname} ({verdict.reason}) via {opcode} at offset {off}",
                      {"callable": verdict.qualname, "opcode": opcode, "why": verdict.reason, **where}, off)
        elif verdict.level == UNKNOWN and not only_dangerous:
            self._add(ScanRule.PICKLE_UNKNOWN_GLOBAL, Severity.MEDIUM, verdict.qualname,
                      f"loading imports {verdict.qualname}, which is not on the allow-list of callables used by "
                      f"model files ({opcode} at offset {off})",
                      {"callable": verdict.qualname, "opcode": opcode, "why": verdict.reason, **where}, off)
        elif verdict.level == LOCAL and not only_dangerous:
            self._add(ScanRule.PICKLE_LOCAL_CLASS, Severity.LOW, verdict.qualname,
                      f"loading needs the class {verdict.qualname} from the loading program itself ({opcode} "
                      f"at offset {off}): the file carries no code for it, but whatever that program defines "
                      "under this name runs", {"callable": verdict.qualname, "opcode": opcode,
                                               "why": verdict.reason, **where}, off)

    def _misused(self, qualname: str) -> None:
        """A record class used other than by rebuilding it: its import gets the verdict it was held back from."""
        held = self._records.pop(qualname, None)
        if held is not None:
            self._import_finding(held.verdict, held.opcode, held.offset, held.where, held.only_dangerous)

    def _call(self, ev: Event, where: dict[str, Any], off: int, only_dangerous: bool, nested_depth: int) -> None:
        func = ev.target
        if isinstance(func, Global):
            verdict = classify(func.module, func.name)
            if verdict.qualname in self._records:
                held = self._records[verdict.qualname]
                if ev.opcode in _RECONSTRUCT_OPCODES or (held.rule.constructor and _plain(ev.args)):
                    return  # a record rebuilt as data (see the module docstring)
                self._misused(verdict.qualname)
            if verdict.qualname in _RECONSTRUCTORS and isinstance(ev.args, tuple) and ev.args \
                    and isinstance(ev.args[0], Global):
                self._reconstructed.add(classify(ev.args[0].module, ev.args[0].name).qualname)
            if verdict.level == UNKNOWN:
                (self._reconstructed if ev.opcode in _RECONSTRUCT_OPCODES else self._called).add(verdict.qualname)
            if verdict.level == UNKNOWN and not only_dangerous:
                severe = ev.opcode in ("REDUCE", "INST", "OBJ")
                sev = Severity.HIGH if severe else Severity.MEDIUM
                verb = "calls" if severe else "instantiates"
                self._add(ScanRule.PICKLE_UNKNOWN_GLOBAL, sev, verdict.qualname,
                          f"loading {verb} {verdict.qualname}({render(ev.args, 2, 80)[1:-1] if isinstance(ev.args, tuple) else ''}), "
                          f"which is not on the allow-list ({ev.opcode} at offset {off})",
                          {"callable": verdict.qualname, "opcode": ev.opcode, "called": True,
                           "arguments": render(ev.args), **where}, off)
            elif verdict.level == DANGEROUS:
                self._add(ScanRule.PICKLE_EXEC, Severity.CRITICAL, verdict.qualname,
                          f"loading calls {verdict.qualname}{render(ev.args, 2, 120)} ({verdict.reason}); "
                          f"{ev.opcode} at offset {off}",
                          {"callable": verdict.qualname, "opcode": ev.opcode, "called": True,
                           "arguments": render(ev.args), "why": verdict.reason, **where}, off)
                qual = ".".join(normalise(func.module, func.name))
                if qual in NESTED_LOADERS and nested_depth < self.state.limits.max_depth:
                    self._nested(ev.args, where, off, nested_depth)
            return
        if isinstance(func, tuple) and len(func) == 2 and isinstance(func[0], str):
            method, target = func
            if _is_plain(target) or (isinstance(target, Call) and isinstance(target.func, Global)):
                return  # appending to / setting items of a rebuilt object: its class was judged at import
            if only_dangerous:
                return
            self._add(ScanRule.PICKLE_DYNAMIC, Severity.HIGH, f"method:{method}",
                      f"{ev.opcode} at offset {off} calls {method}() on {render(target)}",
                      {"opcode": ev.opcode, "target": render(target), **where}, off)
            return
        if func is UNRESOLVED:
            return  # already reported as unverified (MLA-PICKLE-LIMIT)
        desc = render(func)
        sev = Severity.CRITICAL if isinstance(func, Call) else Severity.HIGH
        if only_dangerous and sev is not Severity.CRITICAL:
            return
        self._add(ScanRule.PICKLE_DYNAMIC, sev, f"call:{desc}",
                  f"{ev.opcode} at offset {off} calls a computed value {desc} (not a plain import): "
                  "a reflection chain that reaches a callable without naming it",
                  {"opcode": ev.opcode, "callable": desc, "arguments": render(ev.args), **where}, off)

    def _build(self, ev: Event, where: dict[str, Any], off: int) -> None:
        inst, state = ev.target, ev.args
        if isinstance(inst, Global):
            self._misused(classify(inst.module, inst.name).qualname)
            self._add(ScanRule.PICKLE_BUILD_GADGET, Severity.CRITICAL, f"build:{inst.qualname}",
                      f"BUILD at offset {off} sets attributes on the class/function {inst.qualname} itself "
                      f"({render(state)}): the next BUILD/REDUCE on it runs attacker-chosen code",
                      {"opcode": "BUILD", "target": inst.qualname, "state": render(state), **where}, off)
            return
        for key in _state_keys(state):
            if isinstance(key, str) and key.startswith("__") and key.endswith("__"):
                self._add(ScanRule.PICKLE_BUILD_GADGET, Severity.CRITICAL, f"build-dunder:{key}",
                          f"BUILD at offset {off} sets {key} on {render(inst, 2)}: overriding interpreter hooks "
                          "makes a later BUILD or call run attacker-chosen code",
                          {"opcode": "BUILD", "attribute": key, "target": render(inst), **where}, off)

    def _nested(self, args: Any, where: dict[str, Any], off: int, nested_depth: int) -> None:
        data = args[0] if isinstance(args, tuple) and args else None
        if isinstance(data, Call) and isinstance(data.func, Global) and data.func.qualname in (
                "_codecs.encode", "codecs.encode") and isinstance(data.args, tuple) and data.args \
                and isinstance(data.args[0], str):
            data = data.args[0].encode("latin-1", "replace")
        if isinstance(data, str):
            data = data.encode("latin-1", "replace")
        if not isinstance(data, bytes):
            return
        if not looks_like_pickle(data[:4096]):  # e.g. torch.storage._load_from_bytes: a whole torch file
            from auditor.scan.dispatch import scan_stream

            scan_stream(io.BytesIO(data), self.state.child(f"<bytes loaded at offset {off}>"), size=len(data))
            return
        src = ByteSource(io.BytesIO(data))
        read_pickle(src, self.state.limits, sink=self.sink(nested_depth=nested_depth + 1))
        for agg in self._aggs.values():
            if agg.evidence.get("nested") == nested_depth + 1:
                agg.evidence.setdefault("nested_at", off)


def _state_keys(state: Any) -> list[Any]:
    keys: list[Any] = []
    if isinstance(state, SimDict):
        keys.extend(k for k, _ in state.items)
    elif isinstance(state, tuple) and len(state) == 2:
        for part in state:
            if isinstance(part, SimDict):
                keys.extend(k for k, _ in part.items)
    return keys


def _plain(value: Any, depth: int = 3) -> bool:
    """Literal data only (strings, numbers, None, and tuples of them): the arguments a record's own ``__reduce__``
    passes to its constructor, never an object built by another call."""
    if isinstance(value, (str, bytes, int, float, type(None), Blob)):
        return True
    return isinstance(value, tuple) and depth > 0 and all(_plain(v, depth - 1) for v in value)


def _is_plain(value: Any) -> bool:
    return isinstance(value, (SimList, SimDict, SimSet, tuple, str, bytes, int, float, type(None)))


# -- joblib inline arrays -----------------------------------------------------------------------------------
_DTYPE_RE = re.compile(r"^[<>=|]?([?bBhHiIlLqQpPefdgFDGOSUVaMmuic])(\d*)(?:\[.*\])?$")
_DTYPE_NAMES = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8,
                "uint64": 8, "float16": 2, "float32": 4, "float64": 8, "complex64": 8, "complex128": 16,
                "float": 8, "int": 8, "complex": 16}
_CHAR_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8, "p": 8,
               "P": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32}


def dtype_itemsize(descr: str) -> int | None:
    """Bytes per element of a numpy dtype string; 0 for object dtype; None when unknown."""
    if descr in _DTYPE_NAMES:
        return _DTYPE_NAMES[descr]
    m = _DTYPE_RE.match(descr)
    if not m:
        return None
    kind, digits = m.group(1), m.group(2)
    if kind == "O":
        return 0
    if not digits:
        return _CHAR_SIZES.get(kind, 1 if kind in "bu" else None)
    n = int(digits)
    if kind == "U":
        return 4 * n
    return n


def _joblib_hook(analysis: PickleAnalysis, budget: list[int], state: ScanState):  # type: ignore[no-untyped-def]
    def hook(inst: Any, src: ByteSource, result: PickleResult) -> None:
        if not (isinstance(inst, Call) and isinstance(inst.func, Global)
                and inst.func.qualname in _JOBLIB_WRAPPERS and isinstance(inst.state, SimDict)):
            return
        st: SimDict = inst.state
        shape = st.get("shape")
        dtype = st.get("dtype")
        descr = None
        if isinstance(dtype, Call) and isinstance(dtype.args, tuple) and dtype.args and isinstance(dtype.args[0], str):
            descr = dtype.args[0]
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape) or descr is None:
            raise LimitReached("joblib array wrapper with an unreadable shape/dtype: the inline array cannot be "
                               "skipped", src.offset)
        size = dtype_itemsize(descr)
        if size is None:
            raise LimitReached(f"joblib array with unsupported dtype {descr!r}: the inline array cannot be skipped",
                               src.offset)
        if size == 0:  # object array: joblib pickles it inline, right here
            base = src.offset
            nested = read_pickle(src, state.limits, hook, budget, sink=analysis.sink())
            if not nested.complete:
                raise PickleError(f"inline object-array pickle at {base}: {nested.error}", src.offset)
            return
        if st.get("numpy_array_alignment_bytes") is not None:
            pad = src.byte()
            src.skip(pad)
        count = 1
        for d in shape:
            count *= d
        src.skip(count * size)
    return hook


# -- streams of pickles -------------------------------------------------------------------------------------
def _starts_like_pickle(head: bytes) -> bool:
    if not head or head[0] not in PICKLE_OPCODES:
        return False
    return not (head[0] == 0x80 and (len(head) < 2 or head[1] > 5))


def _resolvable(g: Global) -> bool:
    return bool(g.module) and bool(g.name) and all(p.isidentifier() for p in g.module.split(".")) \
        and all(p.isidentifier() for p in g.name.split("."))


def _reads_as_pickle(res: PickleResult, *, sample_end: bool) -> bool:
    """Whether what the reader saw is a pickle: it reached STOP, or it imports/calls (a known-dangerous import is
    enough on its own: text that happens to spell ``builtins`` / ``eval`` on two lines is not a coincidence), or
    after a PROTO opcode it parsed cleanly until the sample ran out."""
    if res.complete:
        return True
    # Only imports an unpickler could resolve count as evidence: text such as a YAML line "chat_template:" read as
    # GLOBAL spells a module no import can find, and nothing it "calls" could ever run.
    imports = [ev.target for ev in res.events if ev.kind == "import" and isinstance(ev.target, Global)
               and _resolvable(ev.target)]
    if any(classify(g.module, g.name).level == DANGEROUS for g in imports):
        return True
    if imports and res.ops >= 3:
        return True
    if not sample_end and res.ops >= 64 and str(res.error or "").startswith("analysis limit"):
        return True  # parsed cleanly until a bound the caller set: a pickle whose rest is unverified
    return sample_end and res.protocol > 0 and res.ops >= 4 and bool(res.error) \
        and str(res.error).startswith("truncated")


def looks_like_pickle(head: bytes) -> bool:
    """Content test on the first bytes: does a pickle start here? True when they parse to STOP, or parse into
    imports/calls, or (after a PROTO opcode) parse cleanly until the sample ends."""
    if not _starts_like_pickle(head):
        return False
    return _reads_as_pickle(read_pickle(ByteSource(io.BytesIO(head))), sample_end=True)


def pickle_continues(head: bytes) -> bool:
    """The sample parses as pickle opcodes until it runs out inside an argument (a long string or bytes value
    before the first import): only reading on through the whole stream can tell whether it is a pickle."""
    if not _starts_like_pickle(head):
        return False
    res = read_pickle(ByteSource(io.BytesIO(head)))
    return not res.complete and bool(res.error) and str(res.error).startswith("truncated")


def reads_as_pickle(res: PickleResult) -> bool:
    """Whether a whole-stream reading (``PickleAnalysis.first``) shows a pickle: content sniffing without a
    prefix-length horizon (a long first string or any number of harmless opcodes before the payload)."""
    return _reads_as_pickle(res, sample_end=False)


def scan_pickle_stream(f: Any, state: ScanState, fmt: str = "pickle", *, base: int = 0) -> PickleAnalysis:
    """Scan every pickle in ``f`` (a binary stream positioned at the first one). Findings go to ``state``."""
    analysis = PickleAnalysis(state, fmt)
    budget = [state.limits.max_pickle_ops or UNBOUNDED]
    src = ByteSource(f, start=base)
    hook = _joblib_hook(analysis, budget, state)
    legacy = False
    index = 0
    while True:
        start = src.offset
        trailing = index > 0 and not legacy
        res = read_pickle(src, state.limits, hook, budget,
                          sink=analysis.sink(index=index, only_dangerous=trailing))
        if index == 0:
            analysis.first = res
        if trailing and not res.complete and res.ops <= 1:
            state.add(ScanRule.PICKLE_TRAILING, Severity.INFO,
                      f"{src.offset - start if src.offset > start else 'some'} bytes of non-pickle data follow the "
                      f"pickle (from offset {start})", {"format": fmt, "offset": start}, kind="unsafe-model")
            break
        if trailing and res.complete:  # a whole second pickle: judge everything in it, not only the dangerous
            analysis.events(res, index=index, base=0)
        if index == 0 and res.complete and res.value == TORCH_LEGACY_MAGIC:
            legacy = True
            analysis.fmt = fmt = "torch-legacy"
        if trailing and res.complete:
            state.add(ScanRule.PICKLE_TRAILING, Severity.MEDIUM,
                      f"a second pickle follows the first at offset {start}; loaders that read the stream again "
                      "run it too", {"format": fmt, "offset": start, "pickle_index": index})
        if not res.complete:
            if res.error and res.error.startswith("analysis limit"):
                state.add(ScanRule.PICKLE_LIMIT, Severity.MEDIUM,
                          f"the pickle could not be fully analysed ({res.error}); the rest is unverified",
                          {"format": fmt, "offset": res.error_offset, "pickle_index": index})
                state.skip(f"pickle analysis stopped at offset {res.error_offset} ({res.error}); the rest of the "
                           "stream was not checked")
            elif index == 0 or legacy:
                state.add(ScanRule.PICKLE_MALFORMED, Severity.LOW,
                          f"pickle stream invalid or truncated at offset {res.error_offset} ({res.error}); "
                          "everything before that point was analysed (a loader would run it before failing)",
                          {"format": fmt, "offset": res.error_offset, "pickle_index": index})
            else:
                state.add(ScanRule.PICKLE_TRAILING, Severity.INFO,
                          f"data after the pickle (from offset {start}) is not a complete pickle; only known-dangerous "
                          "imports in it are reported", {"format": fmt, "offset": start})
            break
        index += 1
        if legacy and index >= 5:
            break  # the legacy torch format's raw storages follow; they are data
        if index >= state.limits.max_pickles_per_stream:
            state.add(ScanRule.PICKLE_LIMIT, Severity.MEDIUM, f"more than {index} pickles in one stream; the rest "
                      "is unverified", {"format": fmt, "offset": src.offset})
            state.skip(f"more than {index} pickles in one stream (limit max_pickles_per_stream); the rest from "
                       f"offset {src.offset} was not checked")
            break
        try:
            if src.at_eof():
                break
        except Truncated:
            break
    analysis.flush()
    return analysis

"""A pickle reader that never unpickles: it decodes opcodes and simulates the unpickler's stack and memo.

Simulation is what defeats the tricks deny-list scanners miss: the module/name of ``STACK_GLOBAL`` is taken from
whatever strings are on the stack (including ones fetched from the memo), ``INST``/``OBJ``/``NEWOBJ``/``BUILD``
calls are seen as calls, and a callable hidden with ``PUT``/``POP`` and fetched later with ``GET`` is still the
same value when ``REDUCE`` finally calls it. The result is the list of every import and every call a real
``pickle.load`` would perform, in order, with the opcode offset of each.

Only primitive values are materialised; imports and calls become ``Global``/``Call`` records. Strings and bytes
longer than ``Limits.max_inline_bytes`` are skipped (``Blob``) so a 1 GB tensor inside a pickle costs no memory.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditor.scan.limits import DEFAULT_LIMITS, Limits
from auditor.scan.stream import ByteSource, Truncated


class PickleError(Exception):
    """The bytes are not a (complete) pickle; ``offset`` is where reading stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class LimitReached(PickleError):
    """An analysis bound (opcodes, stack size) was hit: the rest of the stream is unverified."""


@dataclass(frozen=True)
class Global:
    module: str
    name: str
    offset: int

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Call:
    func: Any
    args: Any
    offset: int
    opcode: str
    state: Any = None


@dataclass(frozen=True)
class Blob:
    kind: str  # "bytes" | "str"
    length: int
    offset: int


@dataclass(frozen=True)
class PersId:
    pid: Any


@dataclass(frozen=True)
class Ext:
    code: int


@dataclass(frozen=True)
class Opaque:
    what: str


@dataclass(eq=False)
class SimList:
    items: list[Any] = field(default_factory=list)


@dataclass(eq=False)
class SimDict:
    items: list[tuple[Any, Any]] = field(default_factory=list)

    def get(self, key: str) -> Any:
        for k, v in self.items:
            if k == key:
                return v
        return None


@dataclass(eq=False)
class SimSet:
    items: list[Any] = field(default_factory=list)


@dataclass
class Event:
    """One thing a real unpickler would do that can run code."""

    kind: str  # "import" | "call" | "build" | "ext" | "persid" | "dynamic-import" | "setattr-class"
    offset: int
    opcode: str
    target: Any  # Global for imports; the callable value for calls
    args: Any = None


@dataclass
class PickleResult:
    events: list[Event] = field(default_factory=list)
    value: Any = None
    protocol: int = 0
    complete: bool = False  # reached STOP
    error: str | None = None
    error_offset: int | None = None
    start: int = 0
    end: int = 0
    ops: int = 0


# The hook lets container formats react to objects as they are built (joblib reads array bytes after BUILD).
BuildHook = Callable[[Any, ByteSource, PickleResult], None]
# A sink sees every event as it happens, so analysis memory does not grow with the number of calls.
EventSink = Callable[[Event], None]
KEPT_EVENTS = 10_000  # events also kept on the result (for tests and content sniffing)
UNBOUNDED = 1 << 62  # an opcode budget no stream can spend (each opcode is at least one byte)

UNRESOLVED = Opaque("import of names dropped by the analysis memory bound")
_EVICTED = Opaque("value evicted from the memo (analysis memory bound)")


def _decode_line_string(raw: bytes) -> str:
    """Protocol 0 ``STRING``: a quoted Python 2 literal with backslash escapes."""
    if len(raw) >= 2 and raw[:1] == raw[-1:] and raw[:1] in (b"'", b'"'):
        raw = raw[1:-1]
    else:
        raise ValueError("unquoted STRING argument")
    return str(codecs.escape_decode(raw)[0].decode("latin-1"))


def _line_int(raw: bytes) -> Any:
    text = raw.decode("ascii", "strict").strip()
    if text.endswith("L"):
        text = text[:-1]
    if text == "00":
        return False
    if text == "01":
        return True
    if len(text) > 4300:
        return Opaque("huge int")
    return int(text, 0 if text.lower().startswith(("0x", "-0x")) else 10)


class PickleReader:
    """Reads one pickle from a ``ByteSource`` and records what loading it would do."""

    def __init__(self, src: ByteSource, limits: Limits = DEFAULT_LIMITS, build_hook: BuildHook | None = None,
                 op_budget: list[int] | None = None, sink: EventSink | None = None) -> None:
        self.src = src
        self.sink = sink
        self.limits = limits
        self.build_hook = build_hook
        self.budget = op_budget if op_budget is not None else [limits.max_pickle_ops or UNBOUNDED]
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.result = PickleResult(start=src.offset)
        self.memo_evicted = False
        self.memo_count = 0
        self.retained = 0  # container items kept
        self.retained_bytes = 0  # str/bytes argument bytes kept

    # -- helpers -------------------------------------------------------------------------------------------
    def _push(self, value: Any) -> None:
        if len(self.stack) >= self.limits.max_stack:
            raise LimitReached("simulated stack exceeds the analysis limit", self.src.offset)
        self.stack.append(value)

    def _pop(self) -> Any:
        if not self.stack:
            raise PickleError("stack underflow", self.src.offset)
        return self.stack.pop()

    def _pop_mark(self) -> list[Any]:
        items = self.stack
        if not self.metastack:
            raise PickleError("MARK expected", self.src.offset)
        self.stack = self.metastack.pop()
        return items

    def _top(self) -> Any:
        if not self.stack:
            raise PickleError("stack underflow", self.src.offset)
        return self.stack[-1]

    def _data(self, n: int, kind: str, at: int) -> Any:
        if n < 0:
            raise PickleError("negative length", at)
        if n > self.limits.max_inline_bytes or (
                n > 256 and self.retained_bytes + n > self.limits.max_retained_bytes):
            try:
                self.src.skip(n)
            except Truncated as exc:
                raise Truncated(str(exc)) from exc
            return Blob(kind, n, at)
        raw = self.src.read(n)
        self.retained_bytes += n
        if kind == "str":
            return raw.decode("utf-8", "surrogatepass")
        if kind == "latin1":
            return raw.decode("latin-1")
        return raw

    def _memo_put(self, idx: int) -> None:
        value = self._top()
        if idx not in self.memo:
            self.memo_count += 1  # the real unpickler's len(memo) (MEMOIZE keys), kept when entries are dropped
        if len(self.memo) >= self.limits.max_memo and idx not in self.memo and not isinstance(value, Global):
            self.memo_evicted = True  # bounded memory: later GETs of dropped entries yield a placeholder
            return
        self.memo[idx] = value

    def _memo_get(self, idx: int, at: int) -> None:
        if idx not in self.memo:
            if self.memo_evicted:
                self._push(_EVICTED)
                return
            raise PickleError(f"memo key {idx} missing", at)
        self._push(self.memo[idx])

    def _event(self, kind: str, at: int, opcode: str, target: Any, args: Any = None) -> None:
        ev = Event(kind, at, opcode, target, args)
        if len(self.result.events) < KEPT_EVENTS:
            self.result.events.append(ev)
        if self.sink is not None:
            self.sink(ev)

    def _import(self, module: Any, name: Any, at: int, opcode: str) -> Any:
        if isinstance(module, str) and isinstance(name, str):
            g = Global(module, name, at)
            self._event("import", at, opcode, g)
            return g
        if module is _EVICTED or name is _EVICTED:
            self._event("unresolved-import", at, opcode, (module, name))
            return UNRESOLVED
        else:
            self._event("dynamic-import", at, opcode, (module, name))
        return Opaque("dynamic import")

    def _call(self, func: Any, args: Any, at: int, opcode: str) -> Call:
        call = Call(func, args, at, opcode)
        self._event("call", at, opcode, func, args)
        return call

    # -- main loop -----------------------------------------------------------------------------------------
    def read(self) -> PickleResult:
        res = self.result
        try:
            self._loop()
        except LimitReached as exc:
            res.error, res.error_offset = f"analysis limit: {exc}", exc.offset
        except PickleError as exc:
            res.error, res.error_offset = str(exc), exc.offset
        except Truncated as exc:
            res.error, res.error_offset = f"truncated: {exc}", self.src.offset
        except (ValueError, UnicodeDecodeError, OverflowError, struct.error) as exc:
            res.error, res.error_offset = f"malformed argument: {exc}", self.src.offset
        res.end = self.src.offset
        return res

    def _loop(self) -> None:  # noqa: C901 - one branch per opcode is the clearest form
        src = self.src
        res = self.result
        while True:
            if self.budget[0] <= 0:
                raise LimitReached(f"more than {self.limits.max_pickle_ops} opcodes", src.offset)
            self.budget[0] -= 1
            res.ops += 1
            at = src.offset
            op = src.byte()
            c = chr(op)
            # hot opcodes of big data pickles first (strings, memo, small ints); semantics as in the chain below
            if c == "\x8c":
                self._push(self._data(src.byte(), "str", at))
                continue
            if c == "\x94":
                self._memo_put(self.memo_count)
                continue
            if c == "q":
                self._memo_put(src.byte())
                continue
            if c == "K":
                self._push(src.byte())
                continue
            if c == "." :  # STOP
                res.value = self._pop()
                res.complete = True
                return
            if c == "\x80":  # PROTO
                proto = src.byte()
                if proto > 5:
                    raise PickleError(f"unsupported protocol {proto}", at)
                res.protocol = proto
            elif c == "\x95":  # FRAME
                src.read(8)
            elif c == "(":
                self.metastack.append(self.stack)
                self.stack = []
                if len(self.metastack) > self.limits.max_stack:
                    raise LimitReached("MARK nesting exceeds the analysis limit", at)
            elif c == "0":  # POP
                if self.stack:
                    self.stack.pop()
                else:
                    self._pop_mark()
            elif c == "1":  # POP_MARK
                self._pop_mark()
            elif c == "2":  # DUP
                self._push(self._top())
            # ---- constants
            elif c == "N":
                self._push(None)
            elif c == "\x88":
                self._push(True)
            elif c == "\x89":
                self._push(False)
            elif c == "I":
                self._push(_line_int(src.readline(4400)))
            elif c == "L":
                self._push(_line_int(src.readline(4400)))
            elif c == "J":
                self._push(struct.unpack("<i", src.read(4))[0])
            elif c == "K":
                self._push(src.byte())
            elif c == "M":
                self._push(struct.unpack("<H", src.read(2))[0])
            elif c == "\x8a":  # LONG1
                n = src.byte()
                self._push(int.from_bytes(src.read(n), "little", signed=True))
            elif c == "\x8b":  # LONG4
                n = struct.unpack("<i", src.read(4))[0]
                if n < 0:
                    raise PickleError("negative LONG4 length", at)
                if n > 4096:
                    src.skip(n)
                    self._push(Opaque("huge int"))
                else:
                    self._push(int.from_bytes(src.read(n), "little", signed=True))
            elif c == "F":
                self._push(float(src.readline(400)))
            elif c == "G":
                self._push(struct.unpack(">d", src.read(8))[0])
            elif c == "S":
                self._push(_decode_line_string(src.readline(self.limits.max_inline_bytes)))
            elif c == "V":
                self._push(src.readline(self.limits.max_inline_bytes).decode("raw-unicode-escape"))
            elif c == "T":  # BINSTRING
                n = struct.unpack("<i", src.read(4))[0]
                self._push(self._data(n, "latin1", at))
            elif c == "U":  # SHORT_BINSTRING
                self._push(self._data(src.byte(), "latin1", at))
            elif c == "B":  # BINBYTES
                self._push(self._data(struct.unpack("<I", src.read(4))[0], "bytes", at))
            elif c == "C":
                self._push(self._data(src.byte(), "bytes", at))
            elif c == "\x8e":  # BINBYTES8
                self._push(self._data(struct.unpack("<Q", src.read(8))[0], "bytes", at))
            elif c == "\x96":  # BYTEARRAY8
                self._push(self._data(struct.unpack("<Q", src.read(8))[0], "bytes", at))
            elif c == "X":  # BINUNICODE
                self._push(self._data(struct.unpack("<I", src.read(4))[0], "str", at))
            elif c == "\x8c":
                self._push(self._data(src.byte(), "str", at))
            elif c == "\x8d":
                self._push(self._data(struct.unpack("<Q", src.read(8))[0], "str", at))
            elif c in ("\x97", "\x98"):  # NEXT_BUFFER / READONLY_BUFFER
                if c == "\x97":
                    self._push(Opaque("out-of-band buffer"))
            # ---- containers
            elif c == ")":
                self._push(())
            elif c == "t":
                self._push(tuple(self._pop_mark()))
            elif c == "\x85":
                self._push((self._pop(),))
            elif c == "\x86":
                b = self._pop()
                a = self._pop()
                self._push((a, b))
            elif c == "\x87":
                c3 = self._pop()
                b = self._pop()
                a = self._pop()
                self._push((a, b, c3))
            elif c == "]":
                self._push(SimList())
            elif c == "l":
                self._push(SimList(self._pop_mark()))
            elif c == "a":
                value = self._pop()
                self._append(self._top(), [value], at, "APPEND")
            elif c == "e":
                items = self._pop_mark()
                self._append(self._top(), items, at, "APPENDS")
            elif c == "}":
                self._push(SimDict())
            elif c == "d":
                items = self._pop_mark()
                self._push(SimDict(list(zip(items[0::2], items[1::2], strict=False))))
            elif c == "s":
                value = self._pop()
                key = self._pop()
                self._setitems(self._top(), [(key, value)], at, "SETITEM")
            elif c == "u":
                items = self._pop_mark()
                self._setitems(self._top(), list(zip(items[0::2], items[1::2], strict=False)), at, "SETITEMS")
            elif c == "\x8f":
                self._push(SimSet())
            elif c == "\x90":  # ADDITEMS
                items = self._pop_mark()
                target = self._top()
                if isinstance(target, SimSet):
                    if self._keep(len(items)):
                        target.items.extend(items)
                else:
                    self._event("call", at, "ADDITEMS", ("add", target), tuple(items))
            elif c == "\x91":
                self._push(SimSet(self._pop_mark()))
            # ---- memo
            elif c == "p":
                self._memo_put(int(src.readline(64)))
            elif c == "q":
                self._memo_put(src.byte())
            elif c == "r":
                self._memo_put(struct.unpack("<I", src.read(4))[0])
            elif c == "\x94":  # MEMOIZE
                self._memo_put(self.memo_count)
            elif c == "g":
                self._memo_get(int(src.readline(64)), at)
            elif c == "h":
                self._memo_get(src.byte(), at)
            elif c == "j":
                self._memo_get(struct.unpack("<I", src.read(4))[0], at)
            # ---- imports and calls
            elif c == "c":  # GLOBAL
                module = src.readline(4096).decode("utf-8", "surrogateescape")
                name = src.readline(4096).decode("utf-8", "surrogateescape")
                self._push(self._import(module, name, at, "GLOBAL"))
            elif c == "\x93":  # STACK_GLOBAL
                name = self._pop()
                module = self._pop()
                self._push(self._import(module, name, at, "STACK_GLOBAL"))
            elif c == "i":  # INST
                module = src.readline(4096).decode("utf-8", "surrogateescape")
                name = src.readline(4096).decode("utf-8", "surrogateescape")
                args = tuple(self._pop_mark())
                cls = self._import(module, name, at, "INST")
                self._push(self._call(cls, args, at, "INST"))
            elif c == "o":  # OBJ
                items = self._pop_mark()
                if not items:
                    raise PickleError("OBJ without a class", at)
                self._push(self._call(items[0], tuple(items[1:]), at, "OBJ"))
            elif c == "R":  # REDUCE
                args = self._pop()
                func = self._pop()
                self._push(self._call(func, args, at, "REDUCE"))
            elif c == "\x81":  # NEWOBJ
                args = self._pop()
                cls = self._pop()
                self._push(self._call(cls, args, at, "NEWOBJ"))
            elif c == "\x92":  # NEWOBJ_EX
                kwargs = self._pop()
                args = self._pop()
                cls = self._pop()
                self._push(self._call(cls, (args, kwargs), at, "NEWOBJ_EX"))
            elif c == "b":  # BUILD
                state = self._pop()
                inst = self._top()
                self._build(inst, state, at)
            elif c in ("\x82", "\x83", "\x84"):  # EXT1/2/4
                code = src.byte() if c == "\x82" else struct.unpack(
                    "<H" if c == "\x83" else "<i", src.read(2 if c == "\x83" else 4))[0]
                self._event("ext", at, {"\x82": "EXT1", "\x83": "EXT2", "\x84": "EXT4"}[c], Ext(code))
                self._push(Ext(code))
            elif c == "P":  # PERSID
                pid = src.readline(4096).decode("ascii", "replace")
                self._event("persid", at, "PERSID", pid)
                self._push(PersId(pid))
            elif c == "Q":  # BINPERSID
                pid = self._pop()
                self._event("persid", at, "BINPERSID", pid)
                self._push(PersId(pid))
            else:
                raise PickleError(f"invalid opcode 0x{op:02x}", at)

    def _keep(self, n: int) -> bool:
        self.retained += n
        return self.retained <= self.limits.max_retained

    def _append(self, target: Any, items: list[Any], at: int, opcode: str) -> None:
        if isinstance(target, SimList):
            if self._keep(len(items)):
                target.items.extend(items)
        else:  # the unpickler calls target.append/extend: a method call on a rebuilt object
            self._event("call", at, opcode, ("extend", target), tuple(items))

    def _setitems(self, target: Any, pairs: list[tuple[Any, Any]], at: int, opcode: str) -> None:
        if isinstance(target, SimDict):
            if self._keep(len(pairs)):
                target.items.extend(pairs)
        else:
            self._event("call", at, opcode, ("__setitem__", target), tuple(pairs))

    def _build(self, inst: Any, state: Any, at: int) -> None:
        self._event("build", at, "BUILD", inst, state)
        if isinstance(inst, Call) and inst.state is None:
            inst.state = state
        if self.build_hook is not None:
            self.build_hook(inst, self.src, self.result)


def read_pickle(src: ByteSource, limits: Limits = DEFAULT_LIMITS, build_hook: BuildHook | None = None,
                op_budget: list[int] | None = None, sink: EventSink | None = None) -> PickleResult:
    return PickleReader(src, limits, build_hook, op_budget, sink).read()

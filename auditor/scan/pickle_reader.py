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


# Opcode handlers (``PickleReader`` methods, registered with ``_op``): one job each, looked up by opcode byte.
OpHandler = Callable[["PickleReader", int, int], "bool | None"]
_OPCODES: dict[str, OpHandler] = {}


def _op(*opcodes: str) -> Callable[[OpHandler], OpHandler]:
    """Register the decorated method as the handler of ``opcodes`` (their one-character names)."""
    def register(handler: OpHandler) -> OpHandler:
        for opcode in opcodes:
            assert opcode not in _OPCODES, f"two handlers for opcode {opcode!r}"
            _OPCODES[opcode] = handler
        return handler
    return register


# Opcodes that differ only by a value: what they push, or how wide their argument is (struct format, bytes).
_CONSTANTS: dict[str, Any] = {"N": None, "\x88": True, "\x89": False, ")": ()}
_EMPTY: dict[str, Callable[[], Any]] = {"]": SimList, "}": SimDict, "\x8f": SimSet}
_FIXED: dict[str, tuple[str, int]] = {"J": ("<i", 4), "M": ("<H", 2), "G": (">d", 8)}
_SIZED: dict[str, tuple[str, int, str]] = {  # length-prefixed text and data: (length format, its size, kind)
    "T": ("<i", 4, "latin1"), "U": ("B", 1, "latin1"),  # BINSTRING, SHORT_BINSTRING
    "B": ("<I", 4, "bytes"), "C": ("B", 1, "bytes"), "\x8e": ("<Q", 8, "bytes"),  # BINBYTES, SHORT_, BINBYTES8
    "\x96": ("<Q", 8, "bytes"),  # BYTEARRAY8
    "X": ("<I", 4, "str"), "\x8c": ("B", 1, "str"), "\x8d": ("<Q", 8, "str"),  # BINUNICODE, SHORT_, BINUNICODE8
}
_EXT: dict[str, tuple[str, str, int]] = {"\x82": ("EXT1", "B", 1), "\x83": ("EXT2", "<H", 2), "\x84": ("EXT4", "<i", 4)}


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

    def _loop(self) -> None:
        """One opcode at a time, each by its handler (``_OPCODES``), until STOP or the opcode budget is spent."""
        src, res, table = self.src, self.result, _TABLE
        while True:
            if self.budget[0] <= 0:
                raise LimitReached(f"more than {self.limits.max_pickle_ops} opcodes", src.offset)
            self.budget[0] -= 1
            res.ops += 1
            at = src.offset
            op = src.byte()
            handler = table[op]
            if handler is None:
                raise PickleError(f"invalid opcode 0x{op:02x}", at)
            if handler(self, op, at):
                return

    # -- opcodes: framing and the stack ----------------------------------------------------------------------
    # Each handler reads its opcode's argument and acts on the simulated stack and memo, as ``pickle._Unpickler``
    # does; ``at`` is the opcode's offset. A handler returns True only for STOP.
    @_op(".")
    def _stop(self, op: int, at: int) -> bool:
        self.result.value = self._pop()
        self.result.complete = True
        return True

    @_op("\x80")
    def _proto(self, op: int, at: int) -> None:
        proto = self.src.byte()
        if proto > 5:
            raise PickleError(f"unsupported protocol {proto}", at)
        self.result.protocol = proto

    @_op("\x95")
    def _frame(self, op: int, at: int) -> None:
        self.src.read(8)

    @_op("(")
    def _mark(self, op: int, at: int) -> None:
        self.metastack.append(self.stack)
        self.stack = []
        if len(self.metastack) > self.limits.max_stack:
            raise LimitReached("MARK nesting exceeds the analysis limit", at)

    @_op("0")
    def _pop_op(self, op: int, at: int) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark()

    @_op("1")
    def _pop_mark_op(self, op: int, at: int) -> None:
        self._pop_mark()

    @_op("2")
    def _dup(self, op: int, at: int) -> None:
        self._push(self._top())

    # -- opcodes: numbers and text -------------------------------------------------------------------------
    @_op("I", "L")
    def _line_number(self, op: int, at: int) -> None:
        self._push(_line_int(self.src.readline(4400)))

    @_op("K")
    def _binint1(self, op: int, at: int) -> None:
        self._push(self.src.byte())

    @_op("\x8a")
    def _long1(self, op: int, at: int) -> None:
        n = self.src.byte()
        self._push(int.from_bytes(self.src.read(n), "little", signed=True))

    @_op("\x8b")
    def _long4(self, op: int, at: int) -> None:
        n = struct.unpack("<i", self.src.read(4))[0]
        if n < 0:
            raise PickleError("negative LONG4 length", at)
        if n > 4096:
            self.src.skip(n)
            self._push(Opaque("huge int"))
        else:
            self._push(int.from_bytes(self.src.read(n), "little", signed=True))

    @_op("F")
    def _float(self, op: int, at: int) -> None:
        self._push(float(self.src.readline(400)))

    @_op("S")
    def _string(self, op: int, at: int) -> None:
        self._push(_decode_line_string(self.src.readline(self.limits.max_inline_bytes)))

    @_op("V")
    def _unicode(self, op: int, at: int) -> None:
        self._push(self.src.readline(self.limits.max_inline_bytes).decode("raw-unicode-escape"))

    @_op("\x97", "\x98")
    def _buffer(self, op: int, at: int) -> None:
        if op == 0x97:  # NEXT_BUFFER; READONLY_BUFFER leaves the buffer on the stack as it is
            self._push(Opaque("out-of-band buffer"))

    @_op(*_CONSTANTS)
    def _constant(self, op: int, at: int) -> None:
        self._push(_CONSTANTS[chr(op)])

    @_op(*_EMPTY)
    def _empty(self, op: int, at: int) -> None:
        self._push(_EMPTY[chr(op)]())

    @_op(*_FIXED)
    def _fixed(self, op: int, at: int) -> None:
        fmt, size = _FIXED[chr(op)]
        self._push(struct.unpack(fmt, self.src.read(size))[0])

    @_op(*_SIZED)
    def _sized(self, op: int, at: int) -> None:
        """A length (one byte, or a little-endian 4/8-byte field) and that many bytes of text or data."""
        fmt, size, kind = _SIZED[chr(op)]
        n = self.src.byte() if size == 1 else struct.unpack(fmt, self.src.read(size))[0]
        self._push(self._data(n, kind, at))

    # -- opcodes: containers -------------------------------------------------------------------------------
    @_op("t")
    def _tuple(self, op: int, at: int) -> None:
        self._push(tuple(self._pop_mark()))

    @_op("\x85")
    def _tuple1(self, op: int, at: int) -> None:
        self._push((self._pop(),))

    @_op("\x86")
    def _tuple2(self, op: int, at: int) -> None:
        b = self._pop()
        a = self._pop()
        self._push((a, b))

    @_op("\x87")
    def _tuple3(self, op: int, at: int) -> None:
        c = self._pop()
        b = self._pop()
        a = self._pop()
        self._push((a, b, c))

    @_op("l")
    def _list(self, op: int, at: int) -> None:
        self._push(SimList(self._pop_mark()))

    @_op("a")
    def _append_op(self, op: int, at: int) -> None:
        value = self._pop()
        self._append(self._top(), [value], at, "APPEND")

    @_op("e")
    def _appends(self, op: int, at: int) -> None:
        items = self._pop_mark()
        self._append(self._top(), items, at, "APPENDS")

    @_op("d")
    def _dict(self, op: int, at: int) -> None:
        items = self._pop_mark()
        self._push(SimDict(list(zip(items[0::2], items[1::2], strict=False))))

    @_op("s")
    def _setitem(self, op: int, at: int) -> None:
        value = self._pop()
        key = self._pop()
        self._setitems(self._top(), [(key, value)], at, "SETITEM")

    @_op("u")
    def _setitems_op(self, op: int, at: int) -> None:
        items = self._pop_mark()
        self._setitems(self._top(), list(zip(items[0::2], items[1::2], strict=False)), at, "SETITEMS")

    @_op("\x90")
    def _additems(self, op: int, at: int) -> None:
        items = self._pop_mark()
        target = self._top()
        if isinstance(target, SimSet):
            if self._keep(len(items)):
                target.items.extend(items)
        else:
            self._event("call", at, "ADDITEMS", ("add", target), tuple(items))

    @_op("\x91")
    def _frozenset(self, op: int, at: int) -> None:
        self._push(SimSet(self._pop_mark()))

    # -- opcodes: the memo ---------------------------------------------------------------------------------
    @_op("p")
    def _put(self, op: int, at: int) -> None:
        self._memo_put(int(self.src.readline(64)))

    @_op("q")
    def _binput(self, op: int, at: int) -> None:
        self._memo_put(self.src.byte())

    @_op("r")
    def _long_binput(self, op: int, at: int) -> None:
        self._memo_put(struct.unpack("<I", self.src.read(4))[0])

    @_op("\x94")
    def _memoize(self, op: int, at: int) -> None:
        self._memo_put(self.memo_count)

    @_op("g")
    def _get(self, op: int, at: int) -> None:
        self._memo_get(int(self.src.readline(64)), at)

    @_op("h")
    def _binget(self, op: int, at: int) -> None:
        self._memo_get(self.src.byte(), at)

    @_op("j")
    def _long_binget(self, op: int, at: int) -> None:
        self._memo_get(struct.unpack("<I", self.src.read(4))[0], at)

    # -- opcodes: imports and calls (what can run code) ---------------------------------------------------
    def _line_name(self) -> str:
        return self.src.readline(4096).decode("utf-8", "surrogateescape")

    @_op("c")
    def _global(self, op: int, at: int) -> None:
        module = self._line_name()
        name = self._line_name()
        self._push(self._import(module, name, at, "GLOBAL"))

    @_op("\x93")
    def _stack_global(self, op: int, at: int) -> None:
        name = self._pop()
        module = self._pop()
        self._push(self._import(module, name, at, "STACK_GLOBAL"))

    @_op("i")
    def _inst(self, op: int, at: int) -> None:
        module = self._line_name()
        name = self._line_name()
        args = tuple(self._pop_mark())
        cls = self._import(module, name, at, "INST")
        self._push(self._call(cls, args, at, "INST"))

    @_op("o")
    def _obj(self, op: int, at: int) -> None:
        items = self._pop_mark()
        if not items:
            raise PickleError("OBJ without a class", at)
        self._push(self._call(items[0], tuple(items[1:]), at, "OBJ"))

    @_op("R")
    def _reduce(self, op: int, at: int) -> None:
        args = self._pop()
        func = self._pop()
        self._push(self._call(func, args, at, "REDUCE"))

    @_op("\x81")
    def _newobj(self, op: int, at: int) -> None:
        args = self._pop()
        cls = self._pop()
        self._push(self._call(cls, args, at, "NEWOBJ"))

    @_op("\x92")
    def _newobj_ex(self, op: int, at: int) -> None:
        kwargs = self._pop()
        args = self._pop()
        cls = self._pop()
        self._push(self._call(cls, (args, kwargs), at, "NEWOBJ_EX"))

    @_op("b")
    def _build_op(self, op: int, at: int) -> None:
        state = self._pop()
        inst = self._top()
        self._build(inst, state, at)

    @_op("\x82", "\x83", "\x84")
    def _ext(self, op: int, at: int) -> None:
        opcode, fmt, size = _EXT[chr(op)]
        code = self.src.byte() if size == 1 else struct.unpack(fmt, self.src.read(size))[0]
        self._event("ext", at, opcode, Ext(code))
        self._push(Ext(code))

    @_op("P")
    def _persid(self, op: int, at: int) -> None:
        pid = self.src.readline(4096).decode("ascii", "replace")
        self._event("persid", at, "PERSID", pid)
        self._push(PersId(pid))

    @_op("Q")
    def _binpersid(self, op: int, at: int) -> None:
        pid = self._pop()
        self._event("persid", at, "BINPERSID", pid)
        self._push(PersId(pid))

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


# Indexed by opcode byte: ``None`` is an invalid opcode.
_TABLE: tuple[OpHandler | None, ...] = tuple(_OPCODES.get(chr(op)) for op in range(256))


def read_pickle(src: ByteSource, limits: Limits = DEFAULT_LIMITS, build_hook: BuildHook | None = None,
                op_budget: list[int] | None = None, sink: EventSink | None = None) -> PickleResult:
    return PickleReader(src, limits, build_hook, op_budget, sink).read()

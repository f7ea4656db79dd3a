"""Content sniffing and dispatch: decide what a stream is from its bytes and hand it to the right reader.

The file name is only a hint for the few cases where the bytes are ambiguous (protobuf has no magic number).
Containers (zip, tar, compressed streams) call back into ``scan_stream`` for their members with a deeper
``ScanState`` so that nesting is bounded.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zlib
from typing import IO, Any, BinaryIO, cast

from auditor.domain import Finding, Severity
from auditor.kinds import ScanRule
from auditor.scan.roles import model_like
from auditor.scan.state import Collector, ScanState

HEAD = 4096


def sniff(head: bytes, name: str = "") -> str:
    """The format of a stream from its first bytes (``HEAD`` of them)."""
    from auditor.scan.pickle_scan import looks_like_pickle

    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg", b"algg", b"GGML", b"GGJT", b"GGLA"):
        return "ggml"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(head) >= 9 and head[8:9] == b"{" and (int.from_bytes(head[:8], "little") <= (100 << 20)
                                                  or not head[:8].isascii() or not head[:8].decode().isprintable()):
        # before the compression magics: a header length can spell any of them. Eight printable characters spell
        # a length of petabytes: that is text with a brace at offset 8, not a safetensors header.
        return "safetensors"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 3 and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x5d\x00\x00") and len(head) >= 13:
        return "lzma"  # LZMA "alone" format (joblib compress='lzma')
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"ZF0x"):
        return "joblib-zlib"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if _zlib_stream(head):
        return "zlib"  # joblib.dump(..., compress=N) and other raw zlib writers
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    if looks_like_pickle(head):
        return "pickle"
    stripped = head.lstrip()
    if stripped.startswith((b"{", b"[")):
        return "json"
    return "unknown"


_ZLIB_LEVEL_BYTES = (0x01, 0x5E, 0x9C, 0xDA)


def _zlib_stream(head: bytes) -> bool:
    """A zlib header (deflate, 32 KiB window, any level byte, valid check bits) whose first bytes inflate."""
    if len(head) < 3 or head[0] != 0x78 or head[1] not in _ZLIB_LEVEL_BYTES or (head[0] << 8 | head[1]) % 31:
        return False
    try:
        zlib.decompressobj().decompress(head, 1024)
    except zlib.error:
        return False
    return True


def _size_of(f: Any) -> int | None:
    try:
        here = f.tell()
        end = f.seek(0, 2)
        f.seek(here)
        return int(end - here)
    except (OSError, ValueError, AttributeError):
        return None


class _Prefixed(io.RawIOBase):
    """A non-seekable stream with its already-read head put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def spool(f: BinaryIO, limit: int) -> tuple[IO[bytes], int]:
    """Copy a non-seekable stream to a temporary file (memory-bounded) so random-access readers can use it."""
    tmp = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    copied = 0
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        copied += len(chunk)
        if copied > limit:
            tmp.close()
            raise OverflowError(f"member larger than {limit} bytes")
        tmp.write(chunk)
    tmp.seek(0)
    return tmp, copied


_ROLE_FORMATS = {"tf-savedmodel": "tf-savedmodel", "tf-fingerprint": "tf-fingerprint",
                 "keras-metadata": "keras-metadata", "tf-variables": "tf-variables"}


def scan_stream(f: BinaryIO, state: ScanState, *, name: str = "", size: int | None = None,
                role: str | None = None) -> str:
    """Scan one stream positioned at its start; returns the detected format. ``role`` (from the file's place in
    a SavedModel directory) overrides content sniffing for protobuf files, which carry no magic number."""
    seekable = _seekable(f)
    if size is None and seekable:
        size = _size_of(f)
    head = f.read(HEAD)
    if seekable:
        f.seek(-len(head), os.SEEK_CUR)
    else:
        f = cast(BinaryIO, io.BufferedReader(_Prefixed(head, f)))
    state.collector.bytes_read += len(head)
    if role in _ROLE_FORMATS:
        fmt = _ROLE_FORMATS[role]
    else:
        fmt = sniff(head, name)
    if fmt == "unknown" and head and _proto_candidate(name):
        if not seekable:  # a compressed archive member: protobuf framing can only be checked with random access
            ra = _random_access(f, state, size)
            if ra is None:
                return "archive-bomb"
            f, size, seekable = ra[0], ra[1], True
        fmt = _sniff_proto(f, state, size, name)
    if fmt == "unknown" and _long_pickle_candidate(head):
        f, size, seekable, fmt = _sniff_long_pickle(f, state, size, seekable)
    if fmt in ("unknown", "json") and name.lower().endswith(_PROMISED_FORMATS):
        # the name promises a format whose bytes are not there: validate as that format (gives a finding)
        fmt = _PROMISED_FORMATS_MAP[name.lower().rsplit(".", 1)[-1]]
    if fmt == "unknown" and _is_text(head) and not model_like(name or state.path):
        fmt = "text"
    start = f.tell() if seekable else None
    fmt = _dispatch(fmt, f, state, name=name, size=size, head=head)
    if fmt not in ("pickle", "unknown", "json") and role is None and start is not None:
        _pickle_polyglot(f, state, fmt, head, start)
    if fmt == "unknown" and model_like(name or state.path):
        _unknown_format(state, name or state.path, size)
    return fmt


def _unknown_format(state: ScanState, name: str, size: int | None) -> None:
    """A file named like a model that is no format we read was not checked: say so (info) and mark the report
    incomplete, never "no findings"."""
    ext = "." + name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else name
    state.add(ScanRule.SCAN_UNKNOWN_FORMAT, Severity.INFO,
              f"named like a model ({ext}) but its bytes match no format the scanner reads: not checked",
              {"format": "unknown", "size": size}, kind="unsafe-model",
              fix="Check where the file comes from and what loads it; convert it to a format the scanner reads.")
    if not any(s.file == state.path for s in state.collector.skipped):
        state.skip(f"format not recognised: file named like a model ({ext}) whose content matches no known format")


def _long_pickle_candidate(head: bytes) -> bool:
    from auditor.scan.pickle_scan import pickle_continues

    return len(head) >= HEAD and pickle_continues(head)


def _sniff_long_pickle(f: BinaryIO, state: ScanState, size: int | None,
                       seekable: bool) -> tuple[BinaryIO, int | None, bool, str]:
    """The head ran out inside a pickle argument (a long first string, or more harmless opcodes than the head
    holds): only the whole stream can tell. It is scanned once, to the end (values skipped, not kept: bounded
    memory, linear time, no prefix horizon), into a scratch collector; when it reads as a pickle the findings are
    kept and the format is ``pickle-scanned``. A non-seekable stream is spooled first so it can be read again."""
    from auditor.scan import archives
    from auditor.scan.pickle_scan import reads_as_pickle, scan_pickle_stream

    if not seekable:
        ra = _random_access(f, state, size)
        if ra is None:
            return f, size, False, "archive-bomb"
        f, size, seekable = ra[0], ra[1], True
    start = f.tell()
    scratch = ScanState(path=state.path, collector=Collector(), limits=state.limits, depth=state.depth,
                        real_dir=state.real_dir)
    try:
        analysis = scan_pickle_stream(f, scratch, "pickle", base=0)
    finally:
        f.seek(start)
    if analysis.first is None or not reads_as_pickle(analysis.first):
        return f, size, seekable, "unknown"
    state.note_format("pickle")
    state.collector.merge(scratch.collector)
    if size is not None:
        archives.check_polyglot_zip(f, state, size)
    return f, size, seekable, "pickle-scanned"


# A polyglot needs a pickle reading that reaches a named callable from offset 0; bytes that merely parse (a zip's
# "PK\x03\x04" is PERSID then data) and calls of computed values reach nothing a loader would import.
_IMPORT_RULES = frozenset({ScanRule.PICKLE_EXEC, ScanRule.PICKLE_UNKNOWN_GLOBAL, ScanRule.PICKLE_BUILD_GADGET})
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _importable(finding: Finding) -> bool:
    """False for a callable no import can resolve (random bytes read as a GLOBAL's text): nothing can run."""
    evidence = finding.evidence.to_json() if finding.evidence is not None else {}
    name = evidence.get("callable")
    if not isinstance(name, str):
        name = evidence.get("target")
    return isinstance(name, str) and bool(_DOTTED.fullmatch(name.replace(" ", ".", 1)))


def _pickle_polyglot(f: BinaryIO, state: ScanState, fmt: str, head: bytes, start: int) -> None:
    """Bytes that are another format *and* a pickle from offset 0 (``pickle.load``/``torch.load`` of the file
    would run the pickle): scan that reading too."""
    from auditor.scan.pickle_scan import looks_like_pickle, scan_pickle_stream

    if not looks_like_pickle(head):
        return
    # Read the pickle view on the side first: bytes that merely happen to parse as data (a GGUF header starts with
    # 'G', pickle's BINFLOAT, and a '.' nine bytes later ends it) cannot run anything and are not worth a finding.
    scratch = ScanState(path=state.path, collector=Collector(), limits=state.limits, depth=state.depth,
                        real_dir=state.real_dir)
    f.seek(start)
    scan_pickle_stream(f, scratch, "pickle", base=0)
    code = [x for x in scratch.collector.findings if x.id in _IMPORT_RULES and _importable(x)]
    if not code:
        return
    state.add(ScanRule.POLYGLOT, Severity.HIGH, f"file is a {fmt} file and also parses as a pickle from offset 0: "
              "loaders that unpickle it run different content than format-aware tools see",
              {"format": "polyglot", "formats": [fmt, "pickle"]})
    state.collector.merge(scratch.collector)


_PROMISED_FORMATS_MAP = {"safetensors": "safetensors", "gguf": "gguf", "npy": "npy"}
_PROMISED_FORMATS = tuple(f".{ext}" for ext in _PROMISED_FORMATS_MAP)


def _proto_candidate(name: str) -> bool:
    lower = name.lower()
    return lower.endswith((".onnx", ".pb", ".ort", ".onnx_data", ".pbtxt")) or lower.startswith("saved_model")


def _sniff_proto(f: BinaryIO, state: ScanState, size: int | None, name: str) -> str:
    from auditor.scan.graph_scan import sniff_proto

    if size is None or not _seekable(f):
        return "unknown"  # callers spool a non-seekable protobuf candidate first (_random_access)
    if name.lower().rsplit("/", 1)[-1].endswith("keras_metadata.pb"):
        return "keras-metadata"
    start = f.tell()
    try:
        kind = sniff_proto(cast(BinaryIO, _Window(f, start, size)), size)
    finally:
        f.seek(start)
    return kind or "unknown"


class _Window(io.RawIOBase):
    """A view of ``[start, start+size)`` of a seekable stream, with offsets relative to ``start``."""

    def __init__(self, f: BinaryIO, start: int, size: int) -> None:
        self._f = f
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = pos
        elif whence == 1:
            self._pos += pos
        else:
            self._pos = self._size + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self._size - self._pos
        n = max(0, min(n, self._size - self._pos))
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _random_access(f: BinaryIO, state: ScanState, size: int | None) -> tuple[BinaryIO, int] | None:
    """A seekable view starting at offset 0 with a known size, or None (recorded as a skip)."""
    if _seekable(f) and size is not None:
        return _Window(f, f.tell(), size), size  # type: ignore[return-value]
    try:
        tmp, copied = spool(f, state.limits.max_member_read)
    except OverflowError as exc:
        state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"member could not be inspected: {exc}",
                  {"format": "archive"})
        return None
    return tmp, copied  # type: ignore[return-value]


def _dispatch(fmt: str, f: BinaryIO, state: ScanState, *, name: str, size: int | None, head: bytes) -> str:
    """Hand the stream to its reader; returns the format finally recognised ("unknown" when none)."""
    from auditor.scan import archives, gguf_scan, graph_scan, numpy_scan, pickle_scan, safetensors_scan, sevenzip

    if fmt == "archive-bomb":
        pass  # already reported by the spooling step
    elif fmt == "pickle-scanned":
        return "pickle"  # read to the end while sniffing (``_sniff_long_pickle``)
    elif fmt == "pickle":
        state.note_format("pickle")
        start = f.tell() if _seekable(f) else 0
        pickle_scan.scan_pickle_stream(f, state, "pickle", base=0)
        if _seekable(f) and size is not None:
            f.seek(start)
            archives.check_polyglot_zip(f, state, size)
    elif fmt == "zip":
        ra = _random_access(f, state, size)
        if ra is not None:
            archives.scan_zip(ra[0], state, ra[1])
    elif fmt == "tar":
        archives.scan_tar(f, state)
    elif fmt in ("gzip", "bzip2", "xz", "lzma", "joblib-zlib", "zlib"):
        archives.scan_compressed(f, state, fmt, name)
    elif fmt == "7z":
        ra = _random_access(f, state, size)
        if ra is not None:
            sevenzip.scan_7z(ra[0], state, ra[1])
    elif fmt == "tf-fingerprint":
        state.note_format("tf-fingerprint")  # hashes of the SavedModel's files: data, read by nothing that runs
    elif fmt == "tf-variables":
        state.note_format("tf-variables")  # checkpoint tensors and their index table: data
    elif fmt == "lz4":
        state.note_format("lz4")
        state.skip("lz4-compressed stream (e.g. joblib compress='lz4') cannot be decompressed without lz4")
        state.add(ScanRule.SCAN_UNVERIFIED, Severity.MEDIUM, "lz4-compressed content could not be inspected",
                  {"format": "lz4"})
    elif fmt == "npy":
        numpy_scan.scan_npy(f, state)
    elif fmt == "safetensors":
        safetensors_scan.scan_safetensors(f, state, size)
    elif fmt == "gguf":
        gguf_scan.scan_gguf(f, state, size)
    elif fmt == "ggml":
        state.note_format("ggml (legacy)")
    elif fmt == "hdf5":
        _scan_hdf5(f, state, size)
    elif fmt == "onnx":
        ra = _random_access(f, state, size)
        if ra is not None:
            graph_scan.scan_onnx(ra[0], state, ra[1])
    elif fmt in ("tf-savedmodel", "tf-graphdef"):
        ra = _random_access(f, state, size)
        if ra is not None:
            graph_scan.scan_savedmodel(ra[0], state, ra[1], graphdef=fmt == "tf-graphdef")
    elif fmt == "keras-metadata":
        ra = _random_access(f, state, size)  # spools a compressed member: protobuf needs random access
        if ra is not None:
            graph_scan.scan_keras_metadata(ra[0], state, ra[1])
    elif fmt == "json":
        _scan_json(f, state, name, size)
    elif fmt == "text":
        _scan_text(f, state, name or state.path, size)
    elif fmt == "unknown" and _seekable(f) and size is not None and size >= 22 and _zip_with_prefix(f, state, size):
        return "zip-with-prefix"
    else:
        state.note_format(fmt)
    return fmt


def _zip_with_prefix(f: BinaryIO, state: ScanState, size: int) -> bool:
    """Zip readers (pandas, zipfile, many tools) accept data before the archive; torch does not. Such a file is
    scanned as the zip those readers see."""
    from auditor.scan import archives

    start = f.tell()
    tail_len = min(size, 66 * 1024)
    f.seek(start + size - tail_len)
    tail = f.read(tail_len)
    f.seek(start)
    if b"PK\x05\x06" not in tail:
        state.note_format("unknown")
        return False
    state.add(ScanRule.POLYGLOT, Severity.MEDIUM, "file starts with unrecognised data and ends with a zip archive; "
              "zip readers open the archive", {"format": "zip-with-prefix"})
    archives.scan_zip(cast(BinaryIO, _Window(f, start, size)), state, size)
    return True


def _scan_hdf5(f: BinaryIO, state: ScanState, size: int | None) -> None:
    from auditor.scan.keras_scan import scan_h5

    if _seekable(f) and size is not None:
        scan_h5(_Window(f, f.tell(), size), state)  # type: ignore[arg-type]
        return
    try:
        tmp, _copied = spool(f, state.limits.max_member_read)
    except OverflowError as exc:
        state.add(ScanRule.ARCHIVE_BOMB, Severity.HIGH, f"HDF5 member could not be inspected: {exc}",
                  {"format": "hdf5"})
        return
    with tmp:
        scan_h5(tmp, state)  # type: ignore[arg-type]


def _scan_json(f: BinaryIO, state: ScanState, name: str, size: int | None) -> None:
    """JSON documents are parsed (never keyword-filtered: JSON escapes can spell any key) and checked as Keras
    configs when they contain ``class_name`` entries (inside a ``.keras`` archive a broken config is a finding), as
    Hydra-style configs (``_target_``), tokenizer configs (``chat_template``) and HF configs (``auto_map``)."""
    import json

    from auditor.scan.configs import scan_json_value
    from auditor.scan.hfconfig import check_remote_code
    from auditor.scan.keras_scan import scan_keras_config
    from auditor.scan.templates import check_templates, templates_of

    if size is not None and size > state.limits.max_json:
        state.note_format("json")
        if _config_name(name):
            state.gap(f"JSON config larger than the limit max_json={state.limits.max_json}: not checked")
        return
    text = f.read(state.limits.max_json + 1)
    if len(text) > state.limits.max_json:
        state.note_format("json")
        if _config_name(name):
            state.gap(f"JSON config larger than the limit max_json={state.limits.max_json}: not checked")
        return
    strict = state.path.endswith("!config.json")
    keras = scan_keras_config(text, state, strict=strict)
    try:
        doc = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        if keras:
            state.note_format("keras-config")
        else:  # starts with a brace but is no JSON: a template ("{% for ..."), flow-style YAML, plain text
            _scan_text(io.BytesIO(text), state, name or state.path, len(text))
        return
    scan_json_value(doc, state, "json-config")
    check_templates(templates_of(doc), state, "tokenizer-config")
    check_remote_code(doc, state, "hf-config")
    state.note_format("keras-config" if keras else "json")


_CONFIG_SUFFIXES = (".yaml", ".yml")
_TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2", ".template", ".tmpl", ".tpl")


def _config_name(name: str) -> bool:
    leaf = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1].lower()
    return leaf.endswith((".json", *_CONFIG_SUFFIXES)) and ("config" in leaf or "hparams" in leaf)


def _is_text(head: bytes) -> bool:
    """UTF-8 text without NUL bytes (a cut multi-byte character at the end of the head is allowed)."""
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return False
    return True


def _scan_text(f: BinaryIO, state: ScanState, name: str, size: int | None) -> None:
    """Text files a model keeps beside its weights: YAML configs (by name, or any text naming a ``_target_`` that
    parses as YAML) and Jinja chat templates (``*.jinja``, ``chat_template*``)."""
    from auditor.scan.configs import ConfigError, compose_all, mentions_target, report_hits, scan_yaml_text, walk_yaml
    from auditor.scan.templates import check_templates, looks_like_chat_template

    leaf = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1].lower()
    yaml_named = leaf.endswith(_CONFIG_SUFFIXES)
    template_named = leaf.endswith(_TEMPLATE_SUFFIXES) or leaf in ("chat_template", "chat_template.txt")
    limit = state.limits.max_json
    if size is not None and size > limit:
        state.note_format("text")
        if yaml_named or template_named:
            state.gap(f"config/template larger than the limit max_json={limit}: not checked")
        return
    raw = f.read(limit + 1)
    if len(raw) > limit:
        state.note_format("text")
        if yaml_named or template_named:
            state.gap(f"config/template larger than the limit max_json={limit}: not checked")
        return
    text = raw.decode("utf-8", "replace")
    if template_named:
        state.note_format("chat-template")
        check_templates([(leaf, text)], state, "chat-template")
        return
    if yaml_named:
        scan_yaml_text(text, state)
        return
    if mentions_target(text):
        try:
            roots = compose_all(text)
        except ConfigError:
            state.note_format("text")  # not YAML: text that merely mentions the word
            return
        state.note_format("yaml-config")
        report_hits(walk_yaml(roots), state, "yaml-config")
        return
    if looks_like_chat_template(text):
        state.note_format("chat-template")
        check_templates([(leaf, text)], state, "chat-template", parsed_only=True)
        return
    state.note_format("text")

"""ONNX models and TensorFlow SavedModel graphs, read as raw protobuf (no onnx/tensorflow import).

ONNX: tensors whose ``external_data`` location escapes the model's directory (absolute paths, ``..``) make the
loader read arbitrary files; nodes in operator domains outside the standard ones need a custom-op library
(native code) registered by the user. TensorFlow: graph ops that read/write files or call back into Python run
when the graph executes.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.proto import LEN, VARINT, Field, ProtoError, ProtoFile
from auditor.scan.state import ScanState

STANDARD_ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
                                   "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental",
                                   "com.ms.internal.nhwc", "ai.onnx.contrib"})
TF_DANGEROUS_OPS = {
    "PyFunc": ("runs arbitrary Python", Severity.CRITICAL),
    "PyFuncStateless": ("runs arbitrary Python", Severity.CRITICAL),
    "EagerPyFunc": ("runs arbitrary Python", Severity.CRITICAL),
    "ReadFile": ("reads files", Severity.HIGH),
    "WriteFile": ("writes files", Severity.CRITICAL),
    "MatchingFiles": ("lists the file system", Severity.HIGH),
    "DeleteFile": ("deletes files", Severity.CRITICAL),
    "ImmutableConst": ("memory-maps a file", Severity.HIGH),
    "WholeFileReader": ("reads files", Severity.HIGH),
    "WholeFileReaderV2": ("reads files", Severity.HIGH),
    "TextLineDataset": ("reads files", Severity.HIGH),
    "TFRecordDataset": ("reads files", Severity.HIGH),
    "FixedLengthRecordDataset": ("reads files", Severity.HIGH),
    "PrintV2": ("writes to a file (output_stream)", Severity.HIGH),  # reported only for a file:// stream
    "CreateSummaryFileWriter": ("writes event files", Severity.HIGH),
    "CreateSummaryDbWriter": ("writes a database file", Severity.HIGH),
    "Save": ("writes tensors to a fixed file path", Severity.HIGH),  # reported only for a constant path
    "SaveSlices": ("writes tensors to a fixed file path", Severity.HIGH),
    "SaveV2": ("writes tensors to a fixed file path", Severity.HIGH),
    "DebugIdentityV2": ("writes debug dumps to files", Severity.HIGH),
    "Socket": ("network access", Severity.CRITICAL),
    # tf.data ops that read or write paths named in the graph (the V2/V3 spellings are distinct ops)
    "FixedLengthRecordDatasetV2": ("reads files", Severity.HIGH),
    "TFRecordDatasetV2": ("reads files", Severity.HIGH),
    "TextLineDatasetV2": ("reads files", Severity.HIGH),
    "CSVDataset": ("reads files", Severity.HIGH),
    "CSVDatasetV2": ("reads files", Severity.HIGH),
    "ExperimentalCSVDataset": ("reads files", Severity.HIGH),
    "LMDBDataset": ("reads files", Severity.HIGH),
    "ExperimentalLMDBDataset": ("reads files", Severity.HIGH),
    "LoadDataset": ("reads a saved dataset from a path", Severity.HIGH),
    "ExperimentalSqlDataset": ("queries a database file", Severity.HIGH),
    "SqlDataset": ("queries a database file", Severity.HIGH),
    "DistributedSave": ("writes a dataset to a path", Severity.CRITICAL),
    "SaveDataset": ("writes a dataset to a path", Severity.CRITICAL),
    "SaveDatasetV2": ("writes a dataset to a path", Severity.CRITICAL),
    "DatasetToTFRecord": ("writes a TFRecord file", Severity.CRITICAL),
    "ExperimentalDatasetToTFRecord": ("writes a TFRecord file", Severity.CRITICAL),
    "SnapshotDataset": ("writes dataset snapshots to a path", Severity.HIGH),
    "SnapshotDatasetV2": ("writes dataset snapshots to a path", Severity.HIGH),
    "DebugIdentityV3": ("writes debug dumps to files", Severity.HIGH),
}


def _walk_onnx_graph(pf: ProtoFile, start: int, end: int, out: dict[str, Any], depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise ProtoError("graphs nested too deeply")
    for fl in pf.fields(start, end):
        if fl.number == 1 and fl.wire == LEN:  # NodeProto
            _onnx_node(pf, fl.start, fl.start + fl.value, out, depth, max_depth)
        elif fl.number in (5, 15) and fl.wire == LEN:  # initializer / sparse_initializer
            _onnx_tensor(pf, fl.start, fl.start + fl.value, out, sparse=fl.number == 15)


def _onnx_node(pf: ProtoFile, start: int, end: int, out: dict[str, Any], depth: int, max_depth: int) -> None:
    name = op = domain = ""
    for fl in pf.fields(start, end):
        if fl.wire != LEN:
            continue
        if fl.number == 3:
            name = pf.text(fl, 512)
        elif fl.number == 4:
            op = pf.text(fl, 512)
        elif fl.number == 7:
            domain = pf.text(fl, 512)
        elif fl.number == 5:  # AttributeProto: subgraphs (g=6, graphs=11) and tensors (t=5, tensors=10)
            for afl in pf.sub(fl):
                if afl.wire != LEN:
                    continue
                if afl.number in (6, 11):
                    _walk_onnx_graph(pf, afl.start, afl.start + afl.value, out, depth + 1, max_depth)
                elif afl.number in (5, 10):
                    _onnx_tensor(pf, afl.start, afl.start + afl.value, out)
    out["nodes"].append((name, op, domain))


def _onnx_tensor(pf: ProtoFile, start: int, end: int, out: dict[str, Any], sparse: bool = False) -> None:
    name = ""
    location: str | None = None
    for fl in pf.fields(start, end):
        if fl.wire != LEN:
            continue
        if sparse and fl.number in (1, 2):  # SparseTensorProto values/indices are TensorProtos
            _onnx_tensor(pf, fl.start, fl.start + fl.value, out)
        elif fl.number == 8:
            name = pf.text(fl, 512)
        elif fl.number == 13:  # external_data: StringStringEntryProto
            key = value = ""
            for efl in pf.sub(fl):
                if efl.wire == LEN and efl.number == 1:
                    key = pf.text(efl, 256)
                elif efl.wire == LEN and efl.number == 2:
                    value = pf.text(efl, 4096)
            if key == "location":
                location = value
    if location is not None:
        out["external"].append((name, location))


def escapes_on_disk(location: str, model_dir: Path | None) -> str | None:
    """The real target when ``location`` stays inside the directory by name but a symlink leads outside."""
    if model_dir is None:
        return None
    try:
        base = model_dir.resolve()
        target = (model_dir / location.replace("\\", "/")).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if target != base and base not in target.parents:
        return str(target)
    return None


def escapes_directory(location: str) -> bool:
    loc = location.replace("\\", "/")
    if loc.startswith("/") or (len(loc) > 1 and loc[1] == ":") or loc.startswith("//") or "\x00" in loc:
        return True
    norm = posixpath.normpath(loc)
    return norm == ".." or norm.startswith("../")


def scan_onnx(f: BinaryIO, state: ScanState, size: int) -> None:
    pf = ProtoFile(f, size)
    out: dict[str, Any] = {"nodes": [], "external": [], "domains": set(), "local_domains": set()}
    try:
        for fl in pf.fields(0, size):
            if fl.number == 7 and fl.wire == LEN:
                _walk_onnx_graph(pf, fl.start, fl.start + fl.value, out, 0, state.limits.max_proto_depth)
            elif fl.number == 8 and fl.wire == LEN:
                for ofl in pf.sub(fl):
                    if ofl.number == 1 and ofl.wire == LEN:
                        out["domains"].add(pf.text(ofl, 512))
            elif fl.number == 20 and fl.wire == LEN:  # TrainingInfoProto: initialization / algorithm graphs
                for tfl in pf.sub(fl):
                    if tfl.number in (1, 2) and tfl.wire == LEN:
                        _walk_onnx_graph(pf, tfl.start, tfl.start + tfl.value, out, 1, state.limits.max_proto_depth)
            elif fl.number == 25 and fl.wire == LEN:  # FunctionProto: model-local functions
                for ffl in pf.sub(fl):
                    if ffl.number == 10 and ffl.wire == LEN:
                        out["local_domains"].add(pf.text(ffl, 512))
                    elif ffl.number == 7 and ffl.wire == LEN:
                        _onnx_node(pf, ffl.start, ffl.start + ffl.value, out, 1, state.limits.max_proto_depth)
    except ProtoError as exc:
        state.note_format("onnx (invalid)")
        state.add(ScanRule.ONNX_INVALID, Severity.MEDIUM, f"malformed ONNX protobuf: {exc}",
                  {"format": "onnx", "error": str(exc)})
        return
    state.note_format("onnx")
    for name, location in out["external"]:
        real = None if escapes_directory(location) else escapes_on_disk(location, state.real_dir)
        if real is not None:
            state.add(ScanRule.ONNX_EXTERNAL_PATH, Severity.HIGH,
                      f"tensor {name!r} loads its data from {location!r}, a link that resolves outside the model "
                      "directory", {"format": "onnx", "tensor": name, "location": location, "resolves_to": real},
                      fix="Do not load this model; external data must live beside the model file.")
        if escapes_directory(location):
            state.add(ScanRule.ONNX_EXTERNAL_PATH, Severity.HIGH,
                      f"tensor {name!r} loads its data from {location!r}, outside the model directory: loading "
                      "reads (and may leak) arbitrary files", {"format": "onnx", "tensor": name, "location": location},
                      fix="Do not load this model; external data must live beside the model file.")
    custom: dict[str, list[str]] = {}
    for name, op, domain in out["nodes"]:
        if domain not in STANDARD_ONNX_DOMAINS and domain not in out["local_domains"]:
            custom.setdefault(domain, []).append(name or op)
    for domain, names in custom.items():
        state.add(ScanRule.ONNX_CUSTOM_OP, Severity.MEDIUM,
                  f"{len(names)} node(s) use the custom operator domain {domain!r}: running the model needs a "
                  "native custom-op library", {"format": "onnx", "domain": domain, "nodes": names[:20]})


@dataclass
class _TfNode:
    name: str
    op: str
    inputs: list[str]
    span: tuple[int, int]  # the NodeDef's bytes (attributes are read on demand)


# Ops reported only in some configurations (the rest of their uses are ordinary TensorFlow).
_SAVE_OPS = frozenset({"Save", "SaveSlices", "SaveV2"})


def _tf_nodes(pf: ProtoFile, start: int, end: int, out: list[_TfNode], depth: int) -> None:
    """GraphDef (node=1, library=2) or FunctionDef (node_def=3)."""
    for fl in pf.fields(start, end):
        if fl.wire != LEN:
            continue
        if fl.number in (1, 3):
            name = op = ""
            inputs: list[str] = []
            for nfl in pf.sub(fl):
                if nfl.wire == LEN and nfl.number == 1:
                    name = pf.text(nfl, 512)
                elif nfl.wire == LEN and nfl.number == 2:
                    op = pf.text(nfl, 512)
                elif nfl.wire == LEN and nfl.number == 3 and len(inputs) < 8:
                    inputs.append(pf.text(nfl, 512))
            out.append(_TfNode(name, op, inputs, (fl.start, fl.start + fl.value)))
        elif fl.number == 2 and depth < 2:  # FunctionDefLibrary.function = 1 -> FunctionDef
            for lfl in pf.sub(fl):
                if lfl.number == 1 and lfl.wire == LEN:
                    _tf_nodes(pf, lfl.start, lfl.start + lfl.value, out, depth + 1)


def _attr(pf: ProtoFile, node: _TfNode, key: str) -> list[Field]:
    """The AttrValue fields of ``attr[key]`` of a NodeDef (field 5: map entries key=1, value=2)."""
    for fl in pf.fields(*node.span):
        if fl.number != 5 or fl.wire != LEN:
            continue
        entry_key, value = "", None
        for efl in pf.sub(fl):
            if efl.number == 1 and efl.wire == LEN:
                entry_key = pf.text(efl, 256)
            elif efl.number == 2 and efl.wire == LEN:
                value = efl
        if entry_key == key and value is not None:
            return list(pf.sub(value))
    return []


def _attr_string(pf: ProtoFile, node: _TfNode, key: str) -> str | None:
    for fl in _attr(pf, node, key):
        if fl.number == 2 and fl.wire == LEN:  # AttrValue.s
            return pf.text(fl, 4096)
    return None


def _const_strings(pf: ProtoFile, node: _TfNode) -> list[str]:
    """string_val (field 8) of a Const node's ``value`` tensor (AttrValue.tensor = 8)."""
    out: list[str] = []
    for fl in _attr(pf, node, "value"):
        if fl.number == 8 and fl.wire == LEN:
            for tfl in pf.sub(fl):
                if tfl.number == 8 and tfl.wire == LEN and len(out) < 4:
                    out.append(pf.text(tfl, 4096))
    return out


def _input_node(ref: str) -> str:
    return ref.lstrip("^").split(":", 1)[0]


def _conditional_use(pf: ProtoFile, node: _TfNode, by_name: dict[str, _TfNode]) -> str | None:
    """For ops that are ordinary in most graphs, the file they touch when it is fixed in the graph, else None."""
    if node.op == "PrintV2":
        stream = _attr_string(pf, node, "output_stream") or ""
        return stream if stream.startswith("file://") else None
    if node.op in _SAVE_OPS:
        source = by_name.get(_input_node(node.inputs[0])) if node.inputs else None
        if source is not None and source.op == "Const":
            paths = _const_strings(pf, source)
            return paths[0] if paths else "<constant>"
        return None  # a placeholder / function argument: the checkpoint path the caller passes in
    return ""


def scan_savedmodel(f: BinaryIO, state: ScanState, size: int, *, graphdef: bool = False) -> None:
    """A SavedModel (``saved_model.pb``) or, with ``graphdef``, a frozen GraphDef."""
    pf = ProtoFile(f, size)
    ops: list[_TfNode] = []
    try:
        if graphdef:
            _tf_nodes(pf, 0, size, ops, 0)
        for fl in pf.fields(0, size) if not graphdef else ():
            if fl.number == 2 and fl.wire == LEN:  # MetaGraphDef
                for mfl in pf.sub(fl):
                    if mfl.number == 2 and mfl.wire == LEN:  # GraphDef
                        _tf_nodes(pf, mfl.start, mfl.start + mfl.value, ops, 0)
        by_name = {n.name: n for n in ops if n.op == "Const"}
        by_op: dict[str, list[tuple[str, str]]] = {}
        for node in ops:
            if node.op in TF_DANGEROUS_OPS:
                use = _conditional_use(pf, node, by_name)
                if use is not None:
                    by_op.setdefault(node.op, []).append((node.name, use))
    except ProtoError as exc:
        state.note_format("tf-savedmodel (invalid)")
        state.add(ScanRule.TF_INVALID, Severity.MEDIUM, f"malformed SavedModel protobuf: {exc}",
                  {"format": "tf-savedmodel", "error": str(exc)})
        return
    state.note_format("tf-graphdef" if graphdef else "tf-savedmodel")
    for op, uses in by_op.items():
        why, sev = TF_DANGEROUS_OPS[op]
        names = [n for n, _ in uses]
        paths = sorted({u for _, u in uses if u})
        where = f" ({', '.join(repr(p[:80]) for p in paths[:3])})" if paths else ""
        state.add(ScanRule.TF_OP, sev, f"graph op {op} ({why}{where}) in node(s) {', '.join(names[:5])}",
                  {"format": "tf-savedmodel", "op": op, "nodes": names[:20], "why": why,
                   **({"location": paths[0]} if paths else {})})


def sniff_proto(f: BinaryIO, size: int) -> str | None:
    """'onnx' / 'tf-savedmodel' when the whole file frames as that message, else None."""
    if size < 2 or size > (8 << 30):
        return None
    pf = ProtoFile(f, size)
    try:
        numbers: dict[int, int] = {}
        for fl in pf.fields(0, size):
            numbers[fl.number] = fl.wire
            if len(numbers) > 40:
                return None
    except ProtoError:
        return None
    if numbers.get(7) == LEN or numbers.get(8) == LEN:
        if set(numbers) <= {1, 2, 3, 4, 5, 6, 7, 8, 10, 14, 20, 21, 25}:
            return "onnx"
    if numbers.get(2) == LEN and numbers.get(1, VARINT) == VARINT and set(numbers) <= {1, 2}:
        return "tf-savedmodel"
    if numbers.get(1) == LEN and set(numbers) <= {1, 2, 3, 4}:
        return "tf-graphdef"
    return None


def scan_keras_metadata(f: BinaryIO, state: ScanState, size: int) -> None:
    """``keras_metadata.pb`` of a Keras SavedModel: each SavedObject's ``metadata`` (field 5) is layer JSON."""
    import json

    from auditor.scan.keras_scan import check_config

    pf = ProtoFile(f, size)
    try:
        for fl in pf.fields(0, size):
            if fl.number != 1 or fl.wire != LEN:
                continue
            for ofl in pf.sub(fl):
                if ofl.number == 5 and ofl.wire == LEN and ofl.value <= state.limits.max_json:
                    try:
                        meta = json.loads(pf.text(ofl, state.limits.max_json))
                    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                        # As for an H5 config: layer JSON that cannot be read is a layer that was not checked.
                        state.add(ScanRule.KERAS_INVALID, Severity.MEDIUM,
                                  f"layer metadata in keras_metadata.pb is not valid JSON: {str(exc)[:160]}",
                                  {"format": "keras-savedmodel", "offset": ofl.start})
                        continue
                    check_config(meta, state, "keras_metadata.pb")
    except ProtoError as exc:
        state.note_format("keras-metadata (invalid)")
        state.add(ScanRule.TF_INVALID, Severity.MEDIUM, f"malformed keras_metadata.pb: {exc}",
                  {"format": "keras-savedmodel", "error": str(exc)})
        return
    state.note_format("keras-metadata")

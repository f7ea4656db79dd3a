"""Keras models: the architecture JSON (H5 ``model_config`` attribute, Keras 3 ``config.json``) names code.

``Lambda`` layers carry a Python function, often as base64 of ``marshal``-ed bytecode that Keras turns back into a
function on load; layers and objects whose ``module``/``registered_name`` lie outside Keras need user code to be
importable. The H5 file is opened with h5py and only attributes are read; nothing is deserialised or run.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, BinaryIO

from auditor.domain import Severity
from auditor.kinds import ScanRule
from auditor.scan.state import ScanState

HDF5_EXTRA = "pip install 'mlaudit[hdf5]'"  # h5py is an optional extra: without it an HDF5 file is a gap
_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "keras_nlp", "keras_cv",
                  "keras_hub", "tensorflow")
_MARSHAL_MAGIC_HINT = (b"\xe3", b"\x63")  # code object type byte (with/without FLAG_REF)


def _looks_marshalled(text: str) -> bool:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return len(raw) > 16 and raw[:1] in _MARSHAL_MAGIC_HINT


def _walk(obj: Any, path: str, out: list[tuple[str, dict[str, Any]]], depth: int = 0) -> None:
    if depth > 200:
        return
    if isinstance(obj, dict):
        out.append((path, obj))
        for k, v in obj.items():
            _walk(v, f"{path}/{k}", out, depth + 1)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:100_000]):
            _walk(v, f"{path}[{i}]", out, depth + 1)


def _code_strings(obj: Any, depth: int = 0) -> list[str]:
    found: list[str] = []
    if depth > 50:
        return found
    if isinstance(obj, str):
        if len(obj) > 24 and _looks_marshalled(obj):
            found.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            found.extend(_code_strings(v, depth + 1))
    elif isinstance(obj, list):
        for v in obj[:1000]:
            found.extend(_code_strings(v, depth + 1))
    return found


# Model classes Keras itself deserialises at the top of a config; any other top-level class is a subclassed model
# whose code the loading program must supply (the H5 twin of a ``.keras`` file's ``module``/``registered_name``).
KERAS_MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})


def check_config(config: Any, state: ScanState, source: str) -> None:
    nodes: list[tuple[str, dict[str, Any]]] = []
    _walk(config, "", nodes)
    custom_seen: set[str] = set()
    top = config.get("class_name") if isinstance(config, dict) else None
    if source.startswith("H5") and isinstance(top, str) and top not in KERAS_MODEL_CLASSES \
            and not isinstance(config.get("module"), str):
        custom_seen.add(f"top:{top}")
        state.add(ScanRule.KERAS_CUSTOM_OBJECT, Severity.MEDIUM,
                  f"the model class {top!r} is not a Keras model class ({source}): loading needs that class's code "
                  "from the loading program (custom_objects / a registered class), and runs it",
                  {"format": state_format(source), "class_name": top, "config_path": "/"})
    lambdas: list[str] = []
    for where, node in nodes:
        if any(where.startswith(prefix + "/") for prefix in lambdas):
            continue  # the function of a Lambda layer is reported with the layer
        cls = node.get("class_name")
        inner = node.get("config") if isinstance(node.get("config"), dict) else {}
        name = inner.get("name") if isinstance(inner, dict) else None
        if cls == "Lambda":
            lambdas.append(where)
            code = _code_strings(inner)
            func = inner.get("function") if isinstance(inner, dict) else None
            if code:
                state.add(ScanRule.KERAS_LAMBDA, Severity.CRITICAL,
                          f"Lambda layer {name!r} carries marshalled Python bytecode ({source}); loading the model "
                          "rebuilds and runs it", {"format": state_format(source), "layer": name,
                                                   "config_path": where or "/", "bytecode_b64_len": len(code[0])})
            else:
                state.add(ScanRule.KERAS_LAMBDA, Severity.HIGH,
                          f"Lambda layer {name!r} runs Python code named {str(func)[:80]!r} ({source})",
                          {"format": state_format(source), "layer": name, "config_path": where or "/",
                           "function": str(func)[:200]})
            continue
        if cls == "__lambda__":
            continue  # reported with its Lambda layer
        if isinstance(cls, str) and isinstance(inner, dict) and _file_access(cls, name, inner, where, state, source):
            if cls == "TorchModuleWrapper":
                lambdas.append(where)  # its config's "module" is the pickled module, not a Python module name
            continue
        module = node.get("module")
        registered = node.get("registered_name")
        if isinstance(module, str) and module and _function_ref(node, module, where, state, source):
            continue
        if isinstance(module, str) and module and not module.startswith(_KERAS_MODULES):
            key = f"{module}:{cls}"
            if key not in custom_seen:
                custom_seen.add(key)
                state.add(ScanRule.KERAS_CUSTOM_OBJECT, Severity.MEDIUM,
                          f"object {cls!r} comes from module {module!r} outside Keras ({source}); loading imports "
                          "that module's code", {"format": state_format(source), "module": module,
                                                 "class_name": cls, "registered_name": registered,
                                                 "config_path": where or "/"})
        elif isinstance(registered, str) and registered.count(">") and module is None:
            key = f"registered:{registered}"
            if key not in custom_seen:
                custom_seen.add(key)
                state.add(ScanRule.KERAS_CUSTOM_OBJECT, Severity.MEDIUM,
                          f"custom registered object {registered!r} ({source}) needs user code to load",
                          {"format": state_format(source), "registered_name": registered,
                           "config_path": where or "/"})


# Preprocessing layers that read a vocabulary (or IDF weights) from a path given in the config when the model is
# built from it (CVE-2025-12058): a local file is read into the model, a URL or remote file system is fetched.
_VOCABULARY_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization", "IndexLookup"})


def _file_access(cls: str, name: Any, inner: dict[str, Any], where: str, state: ScanState, source: str) -> bool:
    """Layers whose config makes loading read or fetch files, or unpickle embedded bytes; True when reported."""
    fmt = state_format(source)
    if cls in _VOCABULARY_LAYERS:
        paths = {k: inner[k] for k in ("vocabulary", "idf_weights") if isinstance(inner.get(k), str)}
        if not paths:
            return False
        key, path = next(iter(paths.items()))
        remote = "://" in path
        state.add(ScanRule.KERAS_FILE_ACCESS, Severity.HIGH,
                  f"{cls} layer {name!r} takes its {key} from {path[:120]!r} ({source}): loading the model "
                  f"{'fetches that URL' if remote else 'reads that file'} into the model",
                  {"format": fmt, "layer": name, "class_name": cls, "location": path[:500], "key": key,
                   "config_path": where or "/"},
                  fix="Do not load this model; vocabularies must be stored inside the model file.")
        return True
    if cls == "TFSMLayer" and isinstance(inner.get("filepath"), str):
        state.add(ScanRule.KERAS_FILE_ACCESS, Severity.HIGH,
                  f"TFSMLayer {name!r} loads the SavedModel at {inner['filepath'][:120]!r} ({source}): loading the "
                  "model loads and runs that graph from outside the file",
                  {"format": fmt, "layer": name, "class_name": cls, "location": inner["filepath"][:500],
                   "config_path": where or "/"})
        return True
    if cls == "TorchModuleWrapper":
        blob = inner.get("module")
        state.add(ScanRule.KERAS_FILE_ACCESS, Severity.HIGH,
                  f"TorchModuleWrapper layer {name!r} ({source}): loading it runs torch.load (full unpickling) on "
                  "bytes stored in the config; whatever that pickle calls runs", {
                      "format": fmt, "layer": name, "class_name": cls, "callable": "torch.load",
                      "config_path": where or "/", "embedded_bytes": len(blob) if isinstance(blob, str) else None})
        if isinstance(blob, str):
            _scan_embedded(blob, state, f"<TorchModuleWrapper {str(name)[:40]} module>")
        return True
    return False


def _scan_embedded(text: str, state: ScanState, label: str) -> None:
    """Scan base64 bytes a config carries (a pickled module) like a file of their own."""
    import io

    from auditor.scan.dispatch import scan_stream

    if len(text) > state.limits.max_json:
        state.gap(f"embedded bytes of {label} larger than the limit max_json: not checked")
        return
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        state.add(ScanRule.KERAS_INVALID, Severity.MEDIUM, f"{label} is not base64; its content is unverified",
                  {"format": "keras"})
        state.gap(f"{label}: embedded bytes not decodable, not checked")
        return
    child = state.child(label)
    if child.depth > state.limits.max_depth:
        state.gap(f"{label}: nested too deep, not checked")
        return
    scan_stream(io.BytesIO(raw), child, name=label, size=len(raw))


_KERAS_RISKY_FUNCTIONS = frozenset({"get_file", "load_model", "load_weights", "save_model", "save", "deserialize",
                                    "deserialize_keras_object", "load_img", "image_dataset_from_directory",
                                    "text_dataset_from_directory", "audio_dataset_from_directory", "read_file",
                                    "write_file", "py_function", "numpy_function", "exec", "eval", "load_library",
                                    "load_op_library", "register_keras_serializable"})


def _function_ref(node: dict[str, Any], module: str, where: str, state: ScanState, source: str) -> bool:
    """A config entry that names a function/class by ``module`` + name (Keras 3 ``{"class_name": "function"}``):
    loading imports the module and looks the name up (CVE-2025-1550, CVE-2025-8747 style)."""
    from auditor.scan.allowlist import DANGEROUS, classify

    cls = node.get("class_name")
    inner = node.get("config")
    name = inner if cls == "function" and isinstance(inner, str) else cls
    if not isinstance(name, str) or not name:
        return False
    leaf = name.rsplit(".", 1)[-1]
    in_keras = module.startswith(_KERAS_MODULES)
    verdict = classify(module, name)
    dangerous = verdict.level == DANGEROUS and not in_keras
    if dangerous or leaf in _KERAS_RISKY_FUNCTIONS:
        state.add(ScanRule.KERAS_FUNCTION_REF, Severity.CRITICAL,
                  f"config references {module}.{name} ({source}); loading the model imports and uses it "
                  f"({verdict.reason if dangerous else 'file/network/code access'})",
                  {"format": state_format(source), "module": module, "name": name, "config_path": where or "/"})
        return True
    if cls == "function" and not in_keras:
        state.add(ScanRule.KERAS_FUNCTION_REF, Severity.HIGH,
                  f"config references the function {module}.{name} outside Keras ({source}); loading imports it",
                  {"format": state_format(source), "module": module, "name": name, "config_path": where or "/"})
        return True
    return False


def state_format(source: str) -> str:
    if source == "keras_metadata.pb":
        return "keras-savedmodel"
    return "keras-v3" if source == "config.json" else "keras-h5"


def _attr_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return None


def scan_h5(f: BinaryIO | str, state: ScanState) -> None:
    """Read the ``model_config`` (and ``training_config``) attributes of an HDF5 file."""
    try:
        import h5py
    except ImportError:
        state.skip(f"h5py is not installed: HDF5/Keras files cannot be inspected ({HDF5_EXTRA})")
        return
    try:
        with h5py.File(f, "r") as h5:
            found = False
            for attr in ("model_config", "training_config"):
                if attr not in h5.attrs:
                    continue
                text = _attr_text(h5.attrs[attr])
                if text is None:
                    continue
                found = True
                if len(text) > state.limits.max_json:
                    state.add(ScanRule.KERAS_INVALID, Severity.MEDIUM, f"{attr} attribute too large to inspect",
                              {"format": "keras-h5", "attribute": attr, "length": len(text)})
                    continue
                try:
                    config = json.loads(text)
                except (json.JSONDecodeError, RecursionError) as exc:
                    state.add(ScanRule.KERAS_INVALID, Severity.MEDIUM, f"{attr} attribute is not valid JSON: {exc}",
                              {"format": "keras-h5", "attribute": attr})
                    continue
                check_config(config, state, f"H5 {attr}")
            state.note_format("keras-h5" if found else "hdf5")
            _embedded_pickles(h5, state)
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError/RuntimeError on hostile files
        state.note_format("hdf5 (unreadable)")
        state.add(ScanRule.H5_INVALID, Severity.MEDIUM, f"HDF5 file could not be read ({type(exc).__name__}: "
                  f"{str(exc)[:160]}); its model config is unverified", {"format": "hdf5"})


def scan_keras_config(text: bytes, state: ScanState, *, strict: bool = True) -> bool:
    """Check a JSON document as a Keras config; True when it looked like one. ``strict``: unparseable JSON is a
    finding (a ``.keras`` archive's config.json), otherwise it is just not a Keras config."""
    try:
        config = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        if strict:
            state.add(ScanRule.KERAS_INVALID, Severity.MEDIUM, f"config.json is not valid JSON: {str(exc)[:160]}",
                      {"format": "keras-v3"})
        return strict
    nodes: list[tuple[str, dict[str, Any]]] = []
    _walk(config, "", nodes)
    if not any("class_name" in node for _where, node in nodes):
        return False
    check_config(config, state, "config.json")
    return True


_MAX_H5_OBJECTS = 20_000
_MAX_H5_BLOB = 16 << 20


def _as_blobs(value: Any) -> list[bytes]:
    """Byte strings held by an attribute/dataset value (scalars, opaque/uint8 arrays, variable-length rows)."""
    import numpy as np

    if isinstance(value, bytes):
        return [value]
    if isinstance(value, np.void):
        return [value.tobytes()]
    if isinstance(value, np.ndarray):
        if value.dtype == np.uint8 or value.dtype.kind == "V":
            return [value.tobytes()]
        if value.dtype.kind == "S":
            return [bytes(v) for v in value.ravel()[:1000]]
        if value.dtype.kind == "O":
            out: list[bytes] = []
            for v in value.ravel()[:1000]:
                out.extend(_as_blobs(v))
            return out
    return []


def _embedded_pickles(h5: Any, state: ScanState) -> None:
    """Pickles stored inside the HDF5 file (object columns of pandas/PyTables stores, pickled attributes)."""
    import h5py

    from auditor.scan.pickle_scan import looks_like_pickle, scan_pickle_stream

    seen = 0

    def check(where: str, blobs: list[bytes]) -> None:
        for i, blob in enumerate(blobs):
            if len(blob) > 2 and blob[0] == 0x80 and blob[1] <= 5 and looks_like_pickle(blob[:4096]):
                import io

                scan_pickle_stream(io.BytesIO(blob), state.child(f"{where}[{i}]" if len(blobs) > 1 else where),
                                   "hdf5-embedded-pickle")

    def visit(name: str, obj: Any) -> None:
        nonlocal seen
        seen += 1
        if seen > _MAX_H5_OBJECTS:
            return
        for key in list(obj.attrs.keys())[:100]:
            try:
                check(f"/{name}@{key}", _as_blobs(obj.attrs[key]))
            except (OSError, TypeError, ValueError, KeyError):
                continue
        if isinstance(obj, h5py.Dataset):
            try:
                kind = obj.dtype.kind
                vlen = h5py.check_vlen_dtype(obj.dtype)
                small = obj.size * max(obj.dtype.itemsize, 1) <= _MAX_H5_BLOB
                if small and (kind in ("V", "S") or obj.dtype == "uint8" or vlen is not None):
                    check(f"/{name}", _as_blobs(obj[()]))
            except (OSError, TypeError, ValueError):
                return

    for key in list(h5.attrs.keys())[:100]:
        if key in ("model_config", "training_config"):
            continue
        try:
            check(f"/@{key}", _as_blobs(h5.attrs[key]))
        except (OSError, TypeError, ValueError, KeyError):
            continue
    h5.visititems(visit)

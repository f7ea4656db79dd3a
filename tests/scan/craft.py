"""Builders for hostile and benign model files, written byte by byte (never by pickling live objects that run
code). Every payload, if it were ever executed, would create the sentinel file the tests check for."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path


# -- pickle opcodes -----------------------------------------------------------------------------------------
def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def sbu(text: str) -> bytes:
    """SHORT_BINUNICODE (or BINUNICODE for long strings)."""
    raw = text.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def binunicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def string0(text: str) -> bytes:
    return b"S'" + text.encode() + b"'\n"


def stack_global(module: str, name: str) -> bytes:
    return sbu(module) + sbu(name) + b"\x93"


def frame(body: bytes) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body)) + body


def shell_cmd(sentinel: Path) -> str:
    return f"touch {sentinel}"


def reduce_call(callable_bytes: bytes, *args: bytes) -> bytes:
    """callable, MARK args TUPLE, REDUCE."""
    return callable_bytes + b"(" + b"".join(args) + b"tR"


def os_system_p0(sentinel: Path) -> bytes:
    return global_("os", "system") + b"(" + string0(shell_cmd(sentinel)) + b"tR."


def os_system_p2(sentinel: Path, module: str = "os") -> bytes:
    return proto(2) + global_(module, "system") + binunicode(shell_cmd(sentinel)) + b"\x85R."


def stack_global_exec(sentinel: Path, fn: str = "exec") -> bytes:
    code = f"open({str(sentinel)!r}, 'w').write('x')"
    body = stack_global("builtins", fn) + sbu(code) + b"\x85R."
    return proto(4) + frame(body)


def memo_stack_global(sentinel: Path) -> bytes:
    """Module and name strings are memoised first and fetched with GET before STACK_GLOBAL."""
    body = (sbu("os") + b"\x94" + b"0" + sbu("system") + b"\x94" + b"0"  # memo 0 = 'os', memo 1 = 'system'
            + sbu("unrelated") + b"0"
            + b"h\x00h\x01\x93" + sbu(shell_cmd(sentinel)) + b"\x85R.")
    return proto(4) + frame(body)


def getattr_chain(sentinel: Path) -> bytes:
    inner = reduce_call(global_("importlib", "import_module"), binunicode("os"))
    ga = reduce_call(global_("builtins", "getattr"), inner, binunicode("system"))
    return proto(2) + ga + b"(" + binunicode(shell_cmd(sentinel)) + b"tR."


def attrgetter_chain(sentinel: Path) -> bytes:
    """operator.attrgetter('system')(<os module via importlib>)(cmd)."""
    getter = reduce_call(global_("operator", "attrgetter"), binunicode("system"))
    module = reduce_call(global_("importlib", "import_module"), binunicode("os"))
    fn = getter + b"(" + module + b"tR"
    return proto(2) + fn + b"(" + binunicode(shell_cmd(sentinel)) + b"tR."


def runpy_payload(sentinel: Path) -> bytes:
    code = f"open({str(sentinel)!r}, 'w')"
    return proto(4) + frame(stack_global("runpy", "_run_code") + sbu(code) + b"}\x86R.")


def inst_payload(sentinel: Path) -> bytes:
    return b"(" + string0(shell_cmd(sentinel)) + b"ios\nsystem\n."


def obj_payload(sentinel: Path) -> bytes:
    return proto(1) + b"(" + global_("os", "system") + binunicode(shell_cmd(sentinel)) + b"o."


def newobj_ex_payload(sentinel: Path) -> bytes:
    return proto(4) + stack_global("subprocess", "Popen") + sbu("touch") + b"\x85}\x92."


def memo_hidden_callable(sentinel: Path) -> bytes:
    """os.system is stored with BINPUT, popped, and fetched much later with BINGET."""
    return (proto(2) + global_("os", "system") + b"q\x05" + b"0"
            + b"}q\x06" + binunicode("weights") + b"]" + b"s"
            + b"h\x05" + binunicode(shell_cmd(sentinel)) + b"\x85R" + b"0" + b"h\x06.")


def build_setstate_gadget(sentinel: Path) -> bytes:
    """BUILD sets __setstate__ on an instance (slot state), a second BUILD triggers it."""
    return (proto(2) + global_("argparse", "Namespace") + b")\x81"
            + b"N}" + binunicode("__setstate__") + global_("os", "system") + b"s\x86b"
            + binunicode(shell_cmd(sentinel)) + b"b.")


def build_setstate_unknown_callable(sentinel: Path) -> bytes:
    """Same gadget with a callable no deny-list knows: still flagged by the dunder-attribute rule."""
    return (proto(2) + global_("argparse", "Namespace") + b")\x81"
            + b"N}" + binunicode("__setstate__") + global_("mytools.helpers", "run_anything") + b"s\x86b"
            + binunicode(shell_cmd(sentinel)) + b"b.")


def ext_payload() -> bytes:
    return proto(2) + b"\x82\x01" + b"(" + binunicode("x") + b"tR."


def nested_loads(sentinel: Path) -> bytes:
    inner = os_system_p2(sentinel)
    return proto(4) + stack_global("pickle", "loads") + b"C" + bytes([len(inner)]) + inner + b"\x85R."


def benign_state_dict() -> bytes:
    """What torch.save(state_dict) writes to data.pkl for one float tensor (protocol 2)."""
    storage = (b"(" + binunicode("storage") + global_("torch", "FloatStorage") + binunicode("0")
               + binunicode("cpu") + b"K\x04tQ")
    tensor = (global_("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + b"K\x00K\x02K\x02\x86K\x02K\x01\x86"
              + b"\x89" + global_("collections", "OrderedDict") + b")R" + b"tR")
    return proto(2) + global_("collections", "OrderedDict") + b")R" + b"q\x00" + binunicode("fc.weight") + tensor + b"s."


def sklearn_like() -> bytes:
    return (proto(4) + frame(stack_global("sklearn.linear_model._logistic", "LogisticRegression") + b")\x81"
                             + b"}" + sbu("C") + b"G" + struct.pack(">d", 1.0) + b"sb."))


def unknown_call() -> bytes:
    return proto(2) + global_("mypackage.utils", "do_things") + b"(" + binunicode("x") + b"tR."


# -- containers ---------------------------------------------------------------------------------------------
def torch_zip(path: Path, data_pkl: bytes, *, prefix: str = "archive", compress: int = zipfile.ZIP_STORED,
              extra: list[tuple[str, bytes]] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        zf.writestr(f"{prefix}/data.pkl", data_pkl)
        zf.writestr(zipfile.ZipInfo(f"{prefix}/byteorder"), b"little")
        zf.writestr(zipfile.ZipInfo(f"{prefix}/data/0"), struct.pack("<4f", 1, 2, 3, 4))
        zf.writestr(zipfile.ZipInfo(f"{prefix}/version"), b"3\n")
        for name, data in extra or []:
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def torch_legacy(object_pickle: bytes) -> bytes:
    magic = proto(2) + b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    version = proto(2) + b"M\xe9\x03."
    sys_info = proto(2) + b"}" + binunicode("little_endian") + b"\x88s."
    keys = proto(2) + b"]" + binunicode("0") + b"a."
    storage = struct.pack("<q", 4) + struct.pack("<4f", 1, 2, 3, 4)
    return magic + version + sys_info + object_pickle + keys + storage


def npy(descr: str, shape: tuple[int, ...], body: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def safetensors(header: dict[str, object], data: bytes, *, length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def gguf_string(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(raw)) + raw


def gguf(template: str | None, *, extra_kv: bytes = b"", n_kv_extra: int = 0, tensor_offset: int = 0,
         n_kv_override: int | None = None) -> bytes:
    kvs = [gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string("llama"),
           gguf_string("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", 32),
           gguf_string("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<I", 8) + struct.pack("<Q", 3)
           + gguf_string("<s>") + gguf_string("</s>") + gguf_string("hi"),
           gguf_string("llama.block_count") + struct.pack("<I", 4) + struct.pack("<I", 1)]
    if template is not None:
        kvs.append(gguf_string("tokenizer.chat_template") + struct.pack("<I", 8) + gguf_string(template))
    n_kv = len(kvs) + n_kv_extra if n_kv_override is None else n_kv_override
    tensor_info = gguf_string("tok_embeddings.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 2, 2) \
        + struct.pack("<I", 0) + struct.pack("<Q", tensor_offset)
    head = b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 1, n_kv) + b"".join(kvs) + extra_kv + tensor_info
    pad = (-len(head)) % 32
    return head + b"\x00" * pad + struct.pack("<4f", 1, 2, 3, 4)


CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def marshalled_lambda_b64() -> str:
    """Bytes shaped like a marshalled code object (type byte 0xe3 + filler); never loaded."""
    return base64.b64encode(b"\xe3" + b"\x00" * 40 + b"os.system").decode()


def keras_config(lambda_layer: bool, *, custom_module: str | None = None) -> dict[str, object]:
    layers: list[dict[str, object]] = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "input_1"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2}},
    ]
    if lambda_layer:
        layers.append({"class_name": "Lambda", "config": {
            "name": "evil", "function": [marshalled_lambda_b64(), None, None], "function_type": "lambda",
            "module": "__main__"}})
    if custom_module:
        layers.append({"module": custom_module, "class_name": "MyLayer", "config": {"name": "mine"},
                       "registered_name": "Custom>MyLayer"})
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def keras_h5(path: Path, config: dict[str, object]) -> Path:
    import h5py
    import numpy as np

    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config)
        h5.attrs["keras_version"] = "2.15.0"
        g = h5.create_group("model_weights/dense")
        g.create_dataset("kernel", data=np.zeros((4, 2), dtype="float32"))
    return path


def keras_v3(path: Path, config: dict[str, object]) -> Path:
    import h5py
    import numpy as np

    weights = path.with_suffix(".weights.tmp")
    with h5py.File(weights, "w") as h5:
        h5.create_group("layers/dense/vars").create_dataset("0", data=np.zeros((4, 2), dtype="float32"))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights.read_bytes())
    weights.unlink()
    return path


# -- protobuf -----------------------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pfield(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    raw = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def onnx_model(*, external_location: str | None = None, node_domain: str = "") -> bytes:
    tensor = pfield(1, 2) + pfield(2, 1) + pfield(8, "fc.weight")
    if external_location is not None:
        tensor += pfield(13, pfield(1, "location") + pfield(2, external_location)) + pfield(14, 1)
    else:
        tensor += pfield(9, struct.pack("<2f", 1, 2))
    node = pfield(1, "x") + pfield(1, "fc.weight") + pfield(2, "y") + pfield(3, "matmul0") + pfield(4, "MatMul")
    if node_domain:
        node += pfield(7, node_domain)
    graph = pfield(1, node) + pfield(2, "g") + pfield(5, tensor)
    return pfield(1, 8) + pfield(2, "pytorch") + pfield(7, graph) + pfield(8, pfield(1, "") + pfield(2, 17))


def savedmodel(ops: list[str]) -> bytes:
    nodes = b"".join(pfield(1, pfield(1, f"n{i}") + pfield(2, op)) for i, op in enumerate(ops))
    meta_graph = pfield(2, nodes)
    return pfield(1, 1) + pfield(2, meta_graph)


def zip_bytes(members: list[tuple[str, bytes]], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name) if compress == zipfile.ZIP_STORED else name, data)
    return buf.getvalue()
